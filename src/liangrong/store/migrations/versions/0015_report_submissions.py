"""Members' report submissions to the exchanges (REP-1, REP-2): the exchanges' dated
submission windows and each accepted submission with its file
(``liangrong.store.report_submissions``), both append-only.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("submission_windows", "report_submissions")


def upgrade() -> None:
    op.create_table(
        "submission_windows",
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("effective", name="uq_submission_windows_effective"),
    )
    op.create_table(
        "report_submissions",
        sa.Column("submission_id", sa.String(96), primary_key=True),
        sa.Column("report", sa.String(16), nullable=False),
        sa.Column("exchange", sa.String(8), nullable=False),
        sa.Column("trading_date", sa.Date, nullable=False),
        sa.Column("submitted_at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cut_off_at", sa.String(40), nullable=False),
        sa.Column("late_deadline_at", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(96), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("identities_checked", sa.Boolean, nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.UniqueConstraint(
            "report",
            "exchange",
            "trading_date",
            "submitted_at",
            name="uq_report_submissions_at",
        ),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in TABLES:
        unprotect(table)
        op.drop_table(table)
