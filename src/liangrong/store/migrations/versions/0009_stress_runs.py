"""The stored stress-test runs (RISK-12).

Revision ID: 0009
Revises: P0009
"""

revision = "0009"
down_revision = "P0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
