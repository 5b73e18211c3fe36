"""Statements gathered from the store (ACC-5, REP-6): one client's, or many clients' at once
with bulk reads (one set of queries per chunk of clients, never one per client).

Where each part comes from (all read only):
- the holder's name: ``credit_accounts``; the credit limits: the generated book's profile
  planned again from its marker, as ``account_view`` does; a client the generator did not
  make has no agreement on file (limits None, and the statement says so);
- balances as of a day's close: the ledger's projection now, less every posting whose
  business date is after that day.  The projection is the sum of the journal (``ledger
  rebuild`` and the end of day's reconciliation check it), so this is the sum of the postings
  dated up to the day.  Business dates, not sequence numbers: the journal is not in date
  order (the generated book posts its history after the fact, each dated when it happened);
- contracts: the ``contracts`` projection, those opened on or before the day; the maturity
  in force: the opening maturity folded with the granted extensions and term changes
  recorded on or before the period's end (``store.contract_terms``, as the book reads it);
- the period's trades: its ``margin_buy_fill`` and ``short_sell_fill`` transactions; each
  opened one contract (``contracts.opened_seq``), whose terms give price and quantity; the
  fees are the transaction's postings to the firm's fee income and to the levies;
- the period's charges: the ``charge_accrual`` and ``charge_posting`` postings on each
  contract's charges account dated in the period, split by kind by their
  ``charges_accrued`` events (an amount without one, like the generated book's opening
  interest, is the contract's own kind: interest for a financing, the lending fee for a
  short), plus what the contract's pending charges grew by over the period (the charges
  subledger: ``store.charges_pending.pending_at_close`` at the close before the period and
  at its end); the charges owed at either close count the pending too;
- prices: the closes recorded for the trading day on or before the date, else that day's
  reference prices (its previous close), as the end of day values it; haircuts, lines and the
  withdrawal line are that day's reference data.  The opening figures are the close of the
  last trading day before the period (None when the store has no reference data for it).

The figures are the book's own valuation (``book.accounts.margin_account``) over the
exchange formulas (``domain.margin``); credit used is counted as the book's checks
count it (``refresh``) with no order open; ``domain.statement`` checks the invariants.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from sqlalchemy import Connection, Engine, func, select

from liangrong.book.accounts import ClientProfile, margin_account
from liangrong.book.market import MarketDay
from liangrong.book.mirror import ClientMirror, OpenContract
from liangrong.domain import accounts as acc
from liangrong.domain import margin
from liangrong.domain.accounts import AccountKind
from liangrong.domain.contracts import ContractKind, ContractTerms
from liangrong.domain.interest import ChargeKind
from liangrong.domain.journal import BalanceKey, Leg, Posting, Transaction
from liangrong.domain.money import LI_PER_FEN, Rounding, round_fraction, trade_amount_fen
from liangrong.domain.pretrade_state import CreditLimits
from liangrong.domain.purposes import Purpose
from liangrong.domain.rule_book import terms_for
from liangrong.domain.statement import ContractLine, Figures, Position, Statement, Trade, TradeKind
from liangrong.ledger import schema as s
from liangrong.sim.account_view import UnknownAccount
from liangrong.sim.book_generator import book_profiles, client_profile, stored_marker
from liangrong.sim.reference_day import (
    NoReferenceData,
    ReferenceDay,
    load_reference_day,
    opening_market,
    status_lines,
)
from liangrong.store.charges_pending import NOTHING_PENDING, PendingCharges, pending_at_close
from liangrong.store.closing_prices import load_closing_prices
from liangrong.store.contract_terms import TermEvents, load_term_events

Progress = Callable[[int, int], None]  # (statements done, total)
CHUNK_CLIENTS = 1_000  # clients per bulk read
_IN_CHUNK = 400  # keeps IN-lists well below every driver's parameter limit
_FEW_PROFILES = 8  # up to this many clients, plan each profile alone (not the whole book)
FILL_KINDS = {"margin_buy_fill": TradeKind.MARGIN_BUY, "short_sell_fill": TradeKind.SHORT_SELL}
_FEE_ACCOUNTS = (acc.INCOME_FEES, acc.TAX_AND_LEVIES)
# Charges booked on a contract's own account: daily, or its pending posted (the subledger)
_BOOKING = frozenset({Purpose.CHARGE_ACCRUAL.value, Purpose.CHARGE_POSTING.value})
_OWN_CHARGE = {
    ContractKind.FINANCING: ChargeKind.INTEREST,
    ContractKind.SHORT: ChargeKind.LENDING_FEE,
}


def _nothing(_done: int, _total: int) -> None:
    pass


# --------------------------------------------------------------------------- valuation


@dataclass(frozen=True)
class Valuation:
    """A trading day's close: the reference data in force and the market at its prices."""

    ref: ReferenceDay
    market: MarketDay

    @property
    def day(self) -> date:
        return self.ref.trading_date


def valuation_on(engine: Engine, on: date) -> Valuation:
    """The trading day on or before ``on`` at its recorded closes, or at its reference prices
    (the previous close) when no session recorded them."""
    ref = load_reference_day(engine, on)
    market = opening_market(ref)
    closes = load_closing_prices(engine, ref.trading_date)
    for symbol, price in sorted(closes.items()):
        if symbol in market.securities:
            market.set_price(symbol, price)
    market.prices_at = (
        f"closes of {ref.trading_date.isoformat()}"
        if closes
        else f"reference prices of {ref.prices_date.isoformat()} (no close recorded)"
    )
    return Valuation(ref, market)


def _opening_valuation(engine: Engine, start: date, closing: Valuation) -> Valuation | None:
    """The close of the last trading day before ``start`` (None: no reference data for it)."""
    day = closing.ref.calendar.on_or_before(start - timedelta(days=1))
    if day == closing.day:
        return closing
    try:
        return valuation_on(engine, day)
    except NoReferenceData:
        return None


# --------------------------------------------------------------------------- bulk reads


def _by_client() -> dict[str, dict[BalanceKey, int]]:
    return defaultdict(lambda: defaultdict(int))


@dataclass
class _Chunk:
    """What the store says about a chunk of clients, read in bulk."""

    terms: dict[str, list[ContractTerms]] = field(default_factory=lambda: defaultdict(list))
    opened_seq: dict[int, str] = field(default_factory=dict)  # seq -> contract it opened
    # By client: the projection now, the postings after the end, those in the period.
    now: dict[str, dict[BalanceKey, int]] = field(default_factory=_by_client)
    later: dict[str, dict[BalanceKey, int]] = field(default_factory=_by_client)
    period: dict[str, dict[BalanceKey, int]] = field(default_factory=_by_client)
    fills: dict[int, date] = field(default_factory=dict)  # the period's fills: seq -> date
    fill_kinds: dict[int, TradeKind] = field(default_factory=dict)
    fees: dict[int, int] = field(default_factory=dict)  # fill seq -> fees, fen
    accrued: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # contract -> fen
    split: dict[str, dict[ChargeKind, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    moved: set[str] = field(default_factory=set)  # contracts whose debt moved in the period
    # The pending charges at the close before the period and at its end: contract -> kind
    pending_start: PendingCharges = NOTHING_PENDING
    pending_end: PendingCharges = NOTHING_PENDING
    whose: dict[str, str] = field(default_factory=dict)  # contract -> client

    def as_of(self, client: str, period: bool) -> dict[BalanceKey, int]:
        """The client's projection less the postings after the end (and, for the opening,
        those in the period), each contract's charges debt with its pending charges."""
        result = dict(self.now.get(client, {}))
        for moves in (self.later, self.period) if period else (self.later,):
            for key, amount in moves.get(client, {}).items():
                result[key] = result.get(key, 0) - amount
        pending = self.pending_start if period else self.pending_end
        for cid, fen in pending.totals().items():
            if self.whose[cid] == client:
                key = (acc.charges_debt(client, cid), acc.CASH_ASSET)
                result[key] = result.get(key, 0) - fen  # a debt: owing more is more negative
        return {key: amount for key, amount in result.items() if amount}

    def pending_added(self, contract_id: str) -> dict[ChargeKind, int]:
        """What the period added to the contract's pending charges, by kind."""
        end = self.pending_end.by_contract.get(contract_id, {})
        start = self.pending_start.by_contract.get(contract_id, {})
        return {kind: end.get(kind.value, 0) - start.get(kind.value, 0) for kind in ChargeKind}


def _client_of(account: str) -> str:
    parsed = acc.parse_account(account)
    assert parsed is not None and parsed.client_id is not None, account
    return parsed.client_id


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def _collateral_accounts(client: str) -> list[str]:
    return [
        acc.client_cash(client),
        acc.client_locked_cash(client),
        acc.client_securities(client, "SH"),
        acc.client_securities(client, "SZ"),
    ]


def _debt_accounts(t: ContractTerms) -> list[str]:
    principal = acc.financing_debt if t.kind is ContractKind.FINANCING else acc.short_debt
    return [principal(t.client_id, t.contract_id), acc.charges_debt(t.client_id, t.contract_id)]


def _read_chunk(engine: Engine, clients: Sequence[str], start: date, end: date) -> _Chunk:
    chunk = _Chunk()
    c, t, p = s.contracts, s.journal_transactions, s.journal_postings
    with engine.connect() as conn:
        for part in _chunks(clients):
            rows = conn.execute(
                select(c.c.opened_seq, c.c.terms_json).where(c.c.client_id.in_(part))
            )
            for seq, terms_json in rows:
                terms = ContractTerms.from_event(json.loads(terms_json))
                if terms.open_date <= end:
                    chunk.terms[terms.client_id].append(terms)
                    chunk.opened_seq[seq] = terms.contract_id
                    chunk.whose[terms.contract_id] = terms.client_id
        chunk.pending_start = pending_at_close(conn, start - timedelta(days=1), chunk.whose)
        chunk.pending_end = pending_at_close(conn, end, chunk.whose)
        chunk.moved.update(chunk.pending_end.by_contract)  # pending charges accrued
        accounts = [a for client in clients for a in _collateral_accounts(client)]
        accounts += [
            a for ts in chunk.terms.values() for terms in ts for a in _debt_accounts(terms)
        ]
        charges_seqs: set[int] = set()
        for part in _chunks(sorted(accounts)):
            balances = select(s.balances.c.account, s.balances.c.asset, s.balances.c.amount)
            for account, asset, amount in conn.execute(
                balances.where(s.balances.c.account.in_(part))
            ):
                chunk.now[_client_of(account)][(account, asset)] = amount
            moves = (
                select(t.c.seq, t.c.business_date, t.c.kind, p.c.purpose, p.c.account,
                       p.c.asset, p.c.amount)
                .join(t, t.c.seq == p.c.txn_seq)
                .where(p.c.account.in_(part), t.c.business_date >= start)
            )  # fmt: skip
            for seq, day, kind, purpose, account, asset, amount in conn.execute(moves):
                client = _client_of(account)
                if day > end:
                    chunk.later[client][(account, asset)] += amount
                    continue
                chunk.period[client][(account, asset)] += amount
                _learn_move(chunk, seq, day, kind, purpose, account, amount, charges_seqs)
        _read_fees(conn, chunk)
        _read_splits(conn, chunk, charges_seqs)
    return chunk


def _learn_move(
    chunk: _Chunk, seq: int, day: date, kind: str, purpose: str, account: str, amount: int,
    charges_seqs: set[int],
) -> None:  # fmt: skip
    """One posting of the period: a fill of the client, a debt that moved, a charge accrued."""
    if kind in FILL_KINDS and seq in chunk.opened_seq:
        chunk.fills[seq] = day
        chunk.fill_kinds[seq] = FILL_KINDS[kind]
    parsed = acc.parse_account(account)
    if parsed is None or parsed.contract_id is None:
        return
    chunk.moved.add(parsed.contract_id)
    if parsed.kind is AccountKind.CLIENT_CHARGES_DEBT and purpose in _BOOKING:
        chunk.accrued[parsed.contract_id] -= amount  # a debt: accruing makes it more negative
        charges_seqs.add(seq)


def _read_fees(conn: Connection, chunk: _Chunk) -> None:
    """Each fill's fees: its postings to the fee income and to the levies."""
    p = s.journal_postings
    seqs = sorted(chunk.fills)
    for begin in range(0, len(seqs), _IN_CHUNK):
        part = seqs[begin : begin + _IN_CHUNK]
        rows = conn.execute(
            select(p.c.txn_seq, func.sum(p.c.amount))
            .where(p.c.txn_seq.in_(part), p.c.account.in_(_FEE_ACCOUNTS))
            .group_by(p.c.txn_seq)
        )
        chunk.fees.update({seq: int(total) for seq, total in rows})


def _read_splits(conn: Connection, chunk: _Chunk, seqs: Iterable[int]) -> None:
    """The end of day's split of each contract's accrual by kind of charge."""
    t = s.journal_transactions
    wanted = sorted(seqs)
    for begin in range(0, len(wanted), _IN_CHUNK):
        part = wanted[begin : begin + _IN_CHUNK]
        rows = conn.execute(select(t.c.events_json).where(t.c.seq.in_(part)))
        for (events_json,) in rows:
            for event in json.loads(events_json):
                if event.get("type") != "charges_accrued":
                    continue
                split = chunk.split[str(event["contract_id"])]
                for kind in ChargeKind:
                    split[kind] += int(event.get(kind.value, 0))


def _holders(engine: Engine, clients: Sequence[str] | None) -> dict[str, str]:
    table = s.credit_accounts
    query = select(table.c.client_id, table.c.holder_name).distinct()
    names: dict[str, str] = {}
    with engine.connect() as conn:
        if clients is None:
            names.update((client, name) for client, name in conn.execute(query))
        else:
            for part in _chunks(sorted(set(clients))):
                rows = conn.execute(query.where(table.c.client_id.in_(part)))
                names.update((client, name) for client, name in rows)
    missing = sorted(set(clients or ()) - set(names))
    if missing:
        raise UnknownAccount(f"no credit account of {', '.join(missing[:5])} in this store")
    return names


def _profiles(engine: Engine, clients: Sequence[str]) -> dict[str, ClientProfile]:
    """The generated book's agreements of these clients (limits, status), planned again."""
    marker = stored_marker(engine)
    if marker is None:
        return {}
    if len(clients) <= _FEW_PROFILES:
        planned = (client_profile(engine, client) for client in clients)
        return {p.client_id: p for p in planned if p is not None}
    wanted = set(clients)
    return {p.client_id: p for p in book_profiles(engine, marker).profiles if p.client_id in wanted}


# --------------------------------------------------------------------------- one statement


def _mirror(client: str, terms: Iterable[ContractTerms], balances: dict[BalanceKey, int],
            on: date) -> ClientMirror:  # fmt: skip
    """The client's mirror as of ``on``: contracts opened by then, and the balances, learnt
    as one unposted transaction (the mirror's own mapping of accounts to cash, holdings and
    debts; nothing re-derived here)."""
    mirror = ClientMirror(client)
    for t in terms:
        if t.open_date <= on:
            mirror.contracts[t.contract_id] = OpenContract(t, 0)
    postings = []
    for (account, asset), amount in sorted(balances.items()):
        parsed = acc.parse_account(account)
        assert parsed is not None and parsed.client_id == client, account
        if parsed.contract_id is not None and parsed.contract_id not in mirror.contracts:
            continue  # a contract opened later (its balance is zero as of ``on``)
        postings.append(Posting(account, asset, amount))
    if postings:
        leg = Leg(Purpose.LAWFUL, tuple(postings))
        mirror.apply(Transaction(f"as-of:{client}:{on}", on, "balances_as_of", (leg,)))
    return mirror


def figures_of(mirror: ClientMirror, profile: ClientProfile | None, at: Valuation) -> Figures:
    """The account's figures at the valuation's prices (the book's valuation, exact)."""
    market, client = at.market, mirror.client_id
    account = margin_account(mirror, market)
    # Credit used, as the book's checks count it (``refresh``) with nothing held by orders:
    # financing at principal owed, shorts at their sale value.
    financing_fen = sum(f.amount_fen for f in account.financing)
    short_sale_fen = sum(x.sale_amount_fen for x in account.shorts)
    limits = None
    if profile is not None:
        limits = CreditLimits(
            profile.financing_limit_fen, profile.short_limit_fen, profile.total_limit_fen,
            financing_fen, short_sale_fen,
        )  # fmt: skip
    ratio = margin.maintenance_ratio(account)
    line = terms_for(at.ref.rule_book, client, at.day).withdrawal_line
    return Figures(
        valued_on=at.day,
        prices=market.prices_at,
        cash_fen=mirror.cash_fen,
        locked_cash_fen=mirror.locked_fen,
        other_collateral_fen=account.other_collateral_fen,
        securities_value_li=_li(margin.securities_value(account)),
        financing_owed_fen=financing_fen,
        short_value_li=sum(x.quantity * x.price_li for x in account.shorts),
        short_sale_value_fen=short_sale_fen,
        charges_owed_fen=account.interest_and_fees_fen,
        total_assets_li=_li(margin.total_assets(account)),
        total_debt_li=_li(margin.total_debt(account)),
        maintenance_ratio=ratio,
        available_margin_fen=round_fraction(margin.available_margin(account), Rounding.DOWN),
        withdrawable_fen=margin.withdrawable_cash(account, line),
        status=margin.ratio_status(ratio, status_lines(at.ref, client)).value,
        limits=limits,
    )


def _li(value_fen: Fraction) -> int:
    """A value the formulas give in fen, exactly a whole number of li."""
    scaled = value_fen * LI_PER_FEN
    assert scaled.denominator == 1, value_fen
    return scaled.numerator


def _contract_lines(
    mirror: ClientMirror, chunk: _Chunk, start: date, at: Valuation, terms_in_force: TermEvents,
) -> tuple[ContractLine, ...]:  # fmt: skip
    """Contracts open at the end, opened in the period, or whose debt moved in it."""
    lines = []
    for cid, contract in sorted(mirror.contracts.items()):
        t = contract.terms
        if not (contract.is_open or t.open_date >= start or cid in chunk.moved):
            continue
        owed = contract.principal_outstanding
        if t.kind is ContractKind.FINANCING:
            value_li = owed * LI_PER_FEN
        else:
            value_li = owed * at.market.prices_li.get(t.security, t.price_li)
        term = terms_in_force.term(t)
        lines.append(
            ContractLine(
                cid, t.kind, t.security, t.open_date, term.maturity, term.provisional,
                t.annual_rate, t.quantity, t.amount_fen, owed, value_li,
                _accrued(chunk, cid, t.kind), contract.charges_outstanding_fen,
            )
        )  # fmt: skip
    return tuple(lines)


def _accrued(chunk: _Chunk, contract_id: str, kind: ContractKind) -> dict[ChargeKind, int]:
    """The period's charges by kind: what was booked on the contract (its events' split,
    the rest the contract's own kind) and what its pending charges grew by."""
    added = chunk.pending_added(contract_id)
    total = chunk.accrued.get(contract_id, 0) + sum(added.values())
    split = chunk.split.get(contract_id, {})
    split = {k: v for k in ChargeKind if (v := split.get(k, 0) + added[k])}
    rest = total - sum(split.values())
    assert rest >= 0, (contract_id, total, split)
    if rest:
        own = _OWN_CHARGE[kind]
        split[own] = split.get(own, 0) + rest
    return dict(sorted(split.items(), key=lambda item: item[0].value))


def _trades(chunk: _Chunk, terms: Iterable[ContractTerms]) -> tuple[Trade, ...]:
    by_id = {t.contract_id: t for t in terms}
    trades = []
    for seq, day in chunk.fills.items():
        t = by_id.get(chunk.opened_seq[seq])
        if t is None:
            continue  # another client's fill in the same chunk
        amount, fees = trade_amount_fen(t.quantity, t.price_li), chunk.fees.get(seq, 0)
        # a margin buy finances the amount and its fees; a short's terms hold the proceeds
        expected = amount + fees if t.kind is ContractKind.FINANCING else amount
        assert t.amount_fen == expected, (t.contract_id, t.amount_fen, amount, fees)
        kind = chunk.fill_kinds[seq]
        trades.append(
            Trade(day, t.contract_id, kind, t.security, t.price_li, t.quantity, amount, fees)
        )
    return tuple(sorted(trades, key=lambda x: (x.trade_date, x.contract_id)))


def _positions(mirror: ClientMirror, at: Valuation) -> tuple[Position, ...]:
    positions = []
    for symbol, quantity in sorted(mirror.holdings.items()):
        price = at.market.prices_li[symbol]
        security = at.ref.securities.get(symbol)
        name = security.name if security is not None else ""
        positions.append(Position(symbol, name, quantity, price, quantity * price))
    return tuple(positions)


@dataclass(frozen=True)
class _Period:
    start: date
    end: date
    opening: Valuation | None
    closing: Valuation
    terms_in_force: TermEvents  # the term events recorded on or before the end


def _statement(
    client: str, name: str, profile: ClientProfile | None, chunk: _Chunk, period: _Period
) -> Statement:
    terms = chunk.terms.get(client, [])
    at_end = _mirror(client, terms, chunk.as_of(client, period=False), period.end)
    notes = []
    if profile is None:
        notes.append("no credit agreement on file: credit limits not shown")
    opening = None
    if period.opening is None:
        notes.append("no reference data for the close before the period: opening not valued")
    else:
        before = period.start - timedelta(days=1)
        at_start = _mirror(client, terms, chunk.as_of(client, period=True), before)
        opening = figures_of(at_start, profile, period.opening)
    return Statement(
        client_id=client,
        holder_name=name,
        period_start=period.start,
        period_end=period.end,
        opening=opening,
        closing=figures_of(at_end, profile, period.closing),
        positions=_positions(at_end, period.closing),
        contracts=_contract_lines(
            at_end, chunk, period.start, period.closing, period.terms_in_force
        ),
        trades=_trades(chunk, terms),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- entry points


def load_statements(
    engine: Engine,
    start: date,
    end: date,
    clients: Sequence[str] | None = None,
    progress: Progress = _nothing,
    chunk_clients: int = CHUNK_CLIENTS,
) -> Iterator[Statement]:
    """Statements of ``clients`` (every client with a credit account when None), in client
    order, for the period ``start``..``end`` (both included), read a chunk at a time."""
    if start > end:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    names = _holders(engine, clients)
    ids = sorted(names) if clients is None else list(dict.fromkeys(clients))
    closing = valuation_on(engine, end)
    period = _Period(
        start, end, _opening_valuation(engine, start, closing), closing,
        load_term_events(engine, through=end),
    )  # fmt: skip
    profiles = _profiles(engine, ids)
    progress(0, len(ids))
    for begin in range(0, len(ids), chunk_clients):
        part = ids[begin : begin + chunk_clients]
        chunk = _read_chunk(engine, part, start, end)
        for client in part:
            yield _statement(client, names[client], profiles.get(client), chunk, period)
        progress(begin + len(part), len(ids))


def load_statement(engine: Engine, client: str, start: date, end: date) -> Statement:
    """One client's statement for the period (``UnknownAccount`` when there is no such
    credit account, ``NoReferenceData`` when the end has no reference data)."""
    (statement,) = load_statements(engine, start, end, [client])
    return statement
