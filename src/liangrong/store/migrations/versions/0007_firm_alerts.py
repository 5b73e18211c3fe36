"""The firm-level limit alerts (RISK-11).

Revision ID: 0007
Revises: P0007
"""

revision = "0007"
down_revision = "P0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
