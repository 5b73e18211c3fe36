"""The accrual state as columns: ``eod_accruals`` (a row per contract and kind of charge,
millions a day at full size) becomes ``eod_accrual_states``, per date and kind a few parts,
each column a text of newline-separated values (``liangrong.store.accrual_state``).  The
stored states are carried over, so an end of day resumes across the upgrade; the downgrade
carries them back.

The encoding is written out here, not imported: a migration stays what it was when the
store took it.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

OLD, NEW = "eod_accruals", "eod_accrual_states"
PART_ROWS = 100_000


def _old_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("contract_id", sa.String(48), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("booked_fen", sa.BigInteger, nullable=False),
        sa.Column("residue", sa.BigInteger, nullable=False),
        sa.Column("unit", sa.BigInteger, nullable=False),
    ]


def _new_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("unit", sa.BigInteger, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("contract_ids", sa.Text, nullable=False),
        sa.Column("booked_fen", sa.Text, nullable=False),
        sa.Column("residue", sa.Text, nullable=False),
    ]


def _parts(rows: Sequence[Any]) -> Iterator[dict[str, Any]]:
    """The old rows (ordered by date, kind, contract) as the new table's parts."""
    for (day, kind), group in groupby(rows, key=lambda r: (r.trading_date, r.kind)):
        kept = list(group)
        for part, start in enumerate(range(0, len(kept), PART_ROWS)):
            chunk = kept[start : start + PART_ROWS]
            units = {r.unit for r in chunk}
            assert len(units) == 1, f"the state of {day} has units {sorted(units)}"
            yield {
                "trading_date": day, "kind": kind, "part": part, "unit": units.pop(),
                "size": len(chunk),
                "contract_ids": "\n".join(r.contract_id for r in chunk),
                "booked_fen": "\n".join(str(r.booked_fen) for r in chunk),
                "residue": "\n".join(str(r.residue) for r in chunk),
            }  # fmt: skip


def _rows(parts: Sequence[Any]) -> Iterator[dict[str, Any]]:
    """The new table's parts as the old rows."""
    for p in parts:
        columns = (p.contract_ids.split("\n"), p.booked_fen.split("\n"), p.residue.split("\n"))
        for cid, booked, residue in zip(*columns, strict=True):
            yield {
                "trading_date": p.trading_date, "contract_id": cid, "kind": p.kind,
                "booked_fen": int(booked), "residue": int(residue), "unit": p.unit,
            }  # fmt: skip


def _move(
    source: str,
    source_columns: list[sa.Column[Any]],
    order: tuple[str, ...],
    target: str,
    target_columns: list[sa.Column[Any]],
    convert: Callable[[Sequence[Any]], Iterator[dict[str, Any]]],
) -> None:
    """Create ``target``, fill it with ``source``'s rows (in ``order``) converted, drop
    ``source``: the states cross in the migration's one transaction."""
    created = op.create_table(target, *target_columns)
    table = sa.Table(source, sa.MetaData(), *source_columns)
    bind = op.get_bind()
    read = bind.execute(sa.select(table).order_by(*(table.c[name] for name in order)))
    converted = list(convert(read.all()))
    if converted:
        bind.execute(created.insert(), converted)
    op.drop_table(source)


def upgrade() -> None:
    order = ("trading_date", "kind", "contract_id")
    _move(OLD, _old_columns(), order, NEW, _new_columns(), _parts)


def downgrade() -> None:
    order = ("trading_date", "kind", "part")
    _move(NEW, _new_columns(), order, OLD, _old_columns(), _rows)
