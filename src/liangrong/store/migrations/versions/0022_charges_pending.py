"""The accrual state becomes the charges subledger (``docs/charges-subledger.md``): each part
records its first contract (a reader of a few contracts decodes only their parts), the
journal position its pending charges stand at, and the pending column itself.

A state stored before this revision was booked with every charge posted to its contract, so
its pending is zero throughout and its position does not matter (nothing pending can have
been posted since); the upgrade fills them so, and the first contract from each part's ids.
The downgrade drops the columns: refused while anything is pending, which the earlier
revision could not hold.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLE = "eod_accrual_states"
_COLUMNS = (
    ("first_contract", sa.String(48)),
    ("journal_seq", sa.BigInteger()),
    ("pending_fen", sa.Text()),
)


def upgrade() -> None:
    for name, kind in _COLUMNS:
        op.add_column(TABLE, sa.Column(name, kind, nullable=True))
    bind = op.get_bind()
    table = sa.table(
        TABLE, *(sa.column(n) for n in ("trading_date", "kind", "part", "size", "contract_ids"))
    )
    parts = bind.execute(
        sa.select(table.c.trading_date, table.c.kind, table.c.part, table.c.size,
                  table.c.contract_ids)
    ).all()  # fmt: skip
    for day, kind, part, size, ids in parts:
        bind.execute(
            sa.text(
                f"UPDATE {TABLE} SET first_contract = :first, journal_seq = 0, "
                "pending_fen = :pending WHERE trading_date = :day AND kind = :kind AND part = :part"
            ),
            {"first": ids.split("\n", 1)[0], "pending": "\n".join(["0"] * size),
             "day": day, "kind": kind, "part": part},
        )  # fmt: skip
    with op.batch_alter_table(TABLE) as batch:
        for name, kind in _COLUMNS:
            batch.alter_column(name, existing_type=kind, nullable=False)


def downgrade() -> None:
    bind = op.get_bind()
    pending = bind.execute(sa.text(f"SELECT pending_fen FROM {TABLE}")).scalars()
    if any(value != "0" for text in pending for value in text.split("\n")):
        raise RuntimeError("pending charges are stored: revision 0021 cannot hold them")
    with op.batch_alter_table(TABLE) as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
