"""Step ``settle``: the day's settlement with the clearing house, per security, from the
journal (ACC-7, positions and cash against the clearing house), and the closes it stands on.

Every fill is posted settled (its transaction moves the shares and the cash against
``external:market``); settling the day nets those movements per security: shares received
and delivered, cash paid and received, what the firm settles with the clearing house.
Invariants: read only but for its file; the figures are sums of the journal's postings of
the day's transactions on the market account, so they match the journal exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from liangrong.domain import accounts as acc
from liangrong.domain.money import fen_to_yuan_text, li_to_yuan_text
from liangrong.eod.context import Digest, StepOutcome, StepRun
from liangrong.eod.files import csv_bytes, write_atomic
from liangrong.ledger import schema as s

HEADER = (
    "security", "bought_quantity", "bought_amount", "sold_quantity", "sold_amount",
    "net_quantity", "net_amount", "close_price", "close_source",
)  # fmt: skip
UNATTRIBUTED = "*"  # cash against the market in a transaction naming no single security


@dataclass
class Clearing:
    """One security's day against the clearing house (shares, fen)."""

    bought_quantity: int = 0
    bought_fen: int = 0
    sold_quantity: int = 0
    sold_fen: int = 0

    @property
    def net_quantity(self) -> int:
        return self.bought_quantity - self.sold_quantity

    @property
    def net_fen(self) -> int:
        return self.sold_fen - self.bought_fen


def day_clearing(run: StepRun) -> dict[str, Clearing]:
    t, p = s.journal_transactions, s.journal_postings
    per_txn: dict[int, list[tuple[str, int]]] = defaultdict(list)
    with run.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(p.c.txn_seq, p.c.asset, p.c.amount)
            .where(  # the day's transactions first, then their postings by key
                p.c.txn_seq.in_(select(t.c.seq).where(t.c.business_date == run.ctx.day)),
                p.c.account == acc.MARKET,
            )
            .order_by(p.c.txn_seq, p.c.line_no)
        )
        for seq, asset, amount in rows:
            per_txn[seq].append((asset, amount))
    figures: dict[str, Clearing] = defaultdict(Clearing)
    for postings in per_txn.values():
        securities = {asset for asset, _ in postings if asset != acc.CASH_ASSET}
        security = securities.pop() if len(securities) == 1 else UNATTRIBUTED
        row = figures[security]
        for asset, amount in postings:
            # the market's side: it delivers shares to a buyer, receives them from a seller
            if asset == acc.CASH_ASSET:
                if amount > 0:
                    row.bought_fen += amount
                else:
                    row.sold_fen -= amount
            elif amount < 0:
                row.bought_quantity -= amount
            else:
                row.sold_quantity += amount
    return dict(figures)


def settle(run: StepRun) -> StepOutcome:
    closes, source = run.ctx.closes()
    figures = day_clearing(run)
    rows: list[tuple[object, ...]] = []
    total = Clearing()
    for security in sorted(figures):
        f = figures[security]
        close = closes.get(security)
        rows.append(
            (
                security, f.bought_quantity, fen_to_yuan_text(f.bought_fen), f.sold_quantity,
                fen_to_yuan_text(f.sold_fen), f.net_quantity, fen_to_yuan_text(f.net_fen),
                li_to_yuan_text(close) if close is not None else "", source,
            )
        )  # fmt: skip
        total.bought_fen += f.bought_fen
        total.sold_fen += f.sold_fen
    rows.append(
        ("TOTAL", "", fen_to_yuan_text(total.bought_fen), "", fen_to_yuan_text(total.sold_fen),
         "", fen_to_yuan_text(total.net_fen), "", source)
    )  # fmt: skip
    data = csv_bytes(HEADER, rows)
    name = f"settlement_{run.ctx.day:%Y%m%d}.csv"
    write_atomic(run.ctx.out_dir / name, data)
    digest = Digest()
    digest.data(name, data)
    run.progress(1, 1)
    return StepOutcome(
        digest.hexdigest(),
        {
            "securities": len(figures),
            "bought_fen": total.bought_fen,
            "sold_fen": total.sold_fen,
            "closes": source,
            "close_count": len(closes),
        },
    )
