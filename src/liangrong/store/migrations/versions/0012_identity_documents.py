"""Identity documents on file and the firm's dated expiry policy (CLI-6), with the end of
day's reminders and restriction decisions; all four tables append-only
(``liangrong.store.identity_documents``).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = (
    "identity_documents",
    "identity_policy_versions",
    "identity_notices",
    "identity_restrictions",
)


def upgrade() -> None:
    op.create_table(
        "identity_documents",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.String(96), nullable=False, unique=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("valid_until", sa.Date, nullable=True),
        sa.Column("recorded_on", sa.Date, nullable=False),
        sa.Column("generated", sa.Boolean, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_identity_documents_on_file",
        "identity_documents",
        ["client_id", "kind", "recorded_on", "seq"],
    )
    op.create_index("ix_identity_documents_valid_until", "identity_documents", ["valid_until"])
    op.create_table(
        "identity_policy_versions",
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("effective", sa.Date, nullable=False, unique=True),
        sa.Column("notice_days", sa.Integer, nullable=False),
        sa.Column("grace_days", sa.Integer, nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "identity_notices",
        sa.Column("notice_id", sa.String(128), primary_key=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("decided_on", sa.Date, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("days_left", sa.Integer, nullable=False),
        sa.Column("restricts_from", sa.Date, nullable=True),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("text_zh", sa.Text, nullable=False),
        sa.Column("text_en", sa.Text, nullable=False),
    )
    op.create_table(
        "identity_restrictions",
        sa.Column("client_id", sa.String(32), primary_key=True),
        sa.Column("effective", sa.Date, primary_key=True),
        sa.Column("decided_on", sa.Date, nullable=False, index=True),
        sa.Column("restricted", sa.Boolean, nullable=False),
        sa.Column("documents_json", sa.Text, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=True),
        sa.Column("at", sa.String(32), nullable=False),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        unprotect(table)
        op.drop_table(table)
