"""The risk arrays and their revaluation (issue #4; RISK-1, RISK-3).

- On generated books, the vectorised figures equal ``domain.margin``'s exact ones on the
  account built the way the book builds it (holdings = held less the shares backing
  financing, allotted oldest first; shorts at their sale price × shares owed), within the
  screening tolerance, and ``views.exact_account`` equals it exactly.
- Incremental revaluation (price moves, transactions) ends where a full one does.
- Applying the ledger's posted transactions keeps the arrays equal to a fresh bulk load.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from ledger_helpers import financing_terms, open_client, short_terms
from liangrong.domain import margin
from liangrong.domain import operations as ops
from liangrong.domain.contracts import Allocation, ContractKind
from liangrong.domain.fees import Fees
from liangrong.domain.journal import Transaction
from liangrong.domain.orders import OrderKind, Side
from liangrong.domain.settlement import Fill, settle_buy, settle_sale
from liangrong.ledger.journal import Ledger
from liangrong.risk.book_arrays import BookArrays, StalePrices, UnknownContract
from liangrong.risk.layout import BookData, ContractData, _id_ranks
from liangrong.risk.loader import load_book
from liangrong.risk.revaluation import Figures, Revaluer
from liangrong.risk.views import client_state, compacted, exact_account

SYMBOLS = ["600000.SH", "600036.SH", "000001.SZ", "688981.SH", "511880.SH"]
T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
RATIOS_BP = [5000, 8000, 10000, 12000]


# --- a book as plain records, and the reference account built the book's way ----------------


@dataclass(frozen=True)
class Contract:
    contract_id: str
    kind: ContractKind
    client: int
    symbol: int
    quantity: int  # bought (financing); unused for shorts
    amount_fen: int  # principal at opening (financing)
    price_li: int
    opened: int  # day number
    ratio_bp: int
    outstanding: int  # fen (financing) or shares (short)
    charges_fen: int


@dataclass(frozen=True)
class Book:
    cash: list[int]
    held: dict[tuple[int, int], int]
    contracts: list[Contract]
    prices: list[int]
    haircuts_bp: list[int]


def reference_account(book: Book, client: int) -> margin.Account:
    """The exchange formulas' view of one client, built as ``book.accounts`` builds it."""
    left = {s: q for (c, s), q in book.held.items() if c == client}
    mine = [c for c in book.contracts if c.client == client]
    is_open = [c for c in mine if c.outstanding > 0 or c.charges_fen > 0]
    fin = sorted(
        (c for c in is_open if c.kind is ContractKind.FINANCING),
        key=lambda c: (c.opened, c.contract_id),
    )
    financed: dict[int, int] = defaultdict(int)
    financing = []
    for c in fin:
        backing = -(-c.quantity * c.outstanding // c.amount_fen)
        quantity = min(left.get(c.symbol, 0), backing)
        left[c.symbol] = left.get(c.symbol, 0) - quantity
        financed[c.symbol] += quantity
        financing.append(
            margin.FinancedPosition(
                SYMBOLS[c.symbol],
                quantity,
                c.outstanding,
                book.prices[c.symbol],
                Fraction(book.haircuts_bp[c.symbol], 10_000),
                Fraction(c.ratio_bp, 10_000),
            )
        )
    holdings = tuple(
        margin.Holding(
            SYMBOLS[s],
            q - financed[s],
            book.prices[s],
            Fraction(book.haircuts_bp[s], 10_000),
        )
        for (c, s), q in sorted(book.held.items())
        if c == client and q - financed[s] > 0
    )
    shorts = tuple(
        margin.ShortPosition(
            SYMBOLS[c.symbol],
            c.outstanding,
            (c.price_li * c.outstanding + 5) // 10,
            book.prices[c.symbol],
            Fraction(book.haircuts_bp[c.symbol], 10_000),
            Fraction(c.ratio_bp, 10_000),
        )
        for c in is_open
        if c.kind is ContractKind.SHORT and c.outstanding > 0
    )
    return margin.Account(
        cash_fen=book.cash[client],
        interest_and_fees_fen=sum(c.charges_fen for c in mine),
        holdings=holdings,
        financing=tuple(financing),
        shorts=shorts,
    )


def book_data(book: Book) -> BookData:
    def columns(kind: ContractKind) -> ContractData:
        cs = [c for c in book.contracts if c.kind is kind]

        def ints(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=np.int64)

        return ContractData(
            account=np.asarray([c.client for c in cs], dtype=np.intp),
            security=np.asarray([c.symbol for c in cs], dtype=np.intp),
            ids=[c.contract_id for c in cs],
            outstanding=ints([c.outstanding for c in cs]),
            charges=ints([c.charges_fen for c in cs]),
            ratio_bp=ints([c.ratio_bp for c in cs]),
            open=ints([c.opened for c in cs]),
            price_li=ints([c.price_li for c in cs]),
            bought=ints([c.quantity for c in cs]),
            amount=ints([c.amount_fen for c in cs]),
        )

    keys = sorted(k for k, q in book.held.items() if q > 0)
    return BookData(
        client_ids=[f"c{i}" for i in range(len(book.cash))],
        symbols=list(SYMBOLS),
        cash_fen=np.asarray(book.cash, dtype=np.int64),
        position_account=np.asarray([c for c, _ in keys], dtype=np.intp),
        position_security=np.asarray([s for _, s in keys], dtype=np.intp),
        position_quantity=np.asarray([book.held[k] for k in keys], dtype=np.int64),
        financing=columns(ContractKind.FINANCING),
        shorts=columns(ContractKind.SHORT),
    )


def arrays_of(book: Book) -> BookArrays:
    arrays = BookArrays(book_data(book))
    arrays.set_haircuts(
        {sym: Fraction(h, 10_000) for sym, h in zip(SYMBOLS, book.haircuts_bp, strict=True)}
    )
    arrays.set_prices(T0, dict(zip(SYMBOLS, book.prices, strict=True)))
    return arrays


@st.composite
def books(draw: st.DrawFn, max_clients: int = 6) -> Book:
    n = draw(st.integers(1, max_clients))
    ns = len(SYMBOLS)
    cash = draw(st.lists(st.integers(0, 10**10), min_size=n, max_size=n))
    held = draw(
        st.dictionaries(
            st.tuples(st.integers(0, n - 1), st.integers(0, ns - 1)),
            st.integers(1, 10**7),
            max_size=3 * n,
        )
    )
    contracts = []
    for i in range(draw(st.integers(0, 3 * n))):
        kind = draw(st.sampled_from(ContractKind))
        quantity = draw(st.integers(1, 10**6))
        amount = draw(st.integers(1, 10**10))
        contracts.append(
            Contract(
                contract_id=f"{kind.value[0]}{i:03d}",
                kind=kind,
                client=draw(st.integers(0, n - 1)),
                symbol=draw(st.integers(0, ns - 1)),
                quantity=quantity,
                amount_fen=amount,
                price_li=draw(st.integers(1, 10**6)),
                opened=draw(st.integers(738000, 738004)),
                ratio_bp=draw(st.sampled_from(RATIOS_BP)),
                outstanding=draw(
                    st.integers(0, amount if kind is ContractKind.FINANCING else 10**6)
                ),
                charges_fen=draw(st.integers(0, 10**6)),
            )
        )
    prices = draw(st.lists(st.integers(1, 2 * 10**6), min_size=ns, max_size=ns))
    haircuts = draw(st.lists(st.integers(0, 10_000), min_size=ns, max_size=ns))
    return Book(cash, held, contracts, prices, haircuts)


def assert_figures_match_exact(arrays: BookArrays, figures: Figures, reference: Book) -> None:
    for a in range(len(reference.cash)):
        exact = reference_account(reference, a)
        mine = exact_account(arrays, a)
        assert margin.maintenance_ratio(mine) == margin.maintenance_ratio(exact)
        assert margin.available_margin(mine) == margin.available_margin(exact)
        assert margin.total_assets(mine) == margin.total_assets(exact)
        assert margin.total_debt(mine) == margin.total_debt(exact)
        assert_float_close(figures, a, exact)


def assert_float_close(figures: Figures, a: int, exact: margin.Account) -> None:
    ratio = margin.maintenance_ratio(exact)
    if ratio is None:
        assert figures.ratio[a] == math.inf
    else:
        assert figures.ratio[a] == pytest.approx(float(ratio), rel=1e-12)
    # Assets and debt are whole li, exact in float64 at these sizes.
    assert figures.assets_li[a] == margin.total_assets(exact) * 10
    assert figures.debt_li[a] == margin.total_debt(exact) * 10
    available = float(margin.available_margin(exact)) * 10
    # The float sum's error is relative to the terms it adds, not to their (small) total.
    terms = margin.total_assets(exact) + margin.total_debt(exact) + margin.locked_proceeds(exact)
    scale = 10 * float(terms) + abs(available) + 1.0
    assert abs(figures.available_li[a] - available) <= 1e-12 * scale


# --- figures against the exact formulas -----------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books())
def test_vectorised_figures_equal_the_exact_formulas(book: Book) -> None:
    arrays = arrays_of(book)
    figures = Revaluer(arrays).full()
    assert figures.prices_at == T0 and figures.version == arrays.version
    assert_figures_match_exact(arrays, figures, book)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    book=books(),
    moves=st.lists(
        st.dictionaries(st.integers(0, len(SYMBOLS) - 1), st.integers(1, 2 * 10**6), max_size=5),
        min_size=1,
        max_size=6,
    ),
)
def test_incremental_revaluation_equals_a_full_one(book: Book, moves: list[dict[int, int]]) -> None:
    arrays = arrays_of(book)
    revaluer = Revaluer(arrays)
    prices = list(book.prices)
    # The incremental sums add and take away every value they went through: their rounding
    # is bounded by the largest of those, not by the last (a price far above where it ends).
    scale = _magnitude(Revaluer(arrays).full())
    for step, move in enumerate(moves, start=1):
        at = T0 + timedelta(seconds=3 * step)
        touched = revaluer.incremental(
            arrays.set_prices(at, {SYMBOLS[s]: p for s, p in move.items()})
        )
        scale = np.maximum(scale, _magnitude(Revaluer(arrays).full()))
        for s, p in move.items():
            prices[s] = p
        assert touched.prices_at == at
        moved = {s for s, p in move.items()}
        holders = {c for (c, s), q in book.held.items() if s in moved and q > 0}
        holders |= {c.client for c in book.contracts if c.symbol in moved}
        assert set(touched.account_indices().tolist()) <= holders
    current = Revaluer(arrays).full()
    kept = revaluer.figures(None)
    np.testing.assert_array_equal(kept.assets_li, current.assets_li)
    np.testing.assert_array_equal(kept.debt_li, current.debt_li)
    np.testing.assert_array_equal(kept.ratio, current.ratio)
    assert np.all(np.abs(kept.available_li - current.available_li) <= 1e-12 * scale)
    moved_book = Book(book.cash, book.held, book.contracts, prices, book.haircuts_bp)
    assert_figures_match_exact(arrays, kept, moved_book)


def _magnitude(figures: Figures) -> np.ndarray:
    return np.abs(figures.assets_li) + np.abs(figures.debt_li) + 1


def test_only_the_holders_of_a_moved_security_are_revalued() -> None:
    book = Book(
        cash=[1_000_000, 2_000_000, 0],
        held={(0, 0): 1000, (1, 1): 500},
        contracts=[
            Contract(
                "f1", ContractKind.FINANCING, 2, 2, 100, 100_000, 10_000, 1, 10_000, 100_000, 0
            ),
            Contract("s1", ContractKind.SHORT, 1, 0, 0, 0, 10_000, 1, 10_000, 200, 0),
        ],
        prices=[10_000, 20_000, 11_000, 5_000, 100_000],
        haircuts_bp=[7000, 7000, 5000, 0, 9500],
    )
    arrays = arrays_of(book)
    revaluer = Revaluer(arrays)
    figures = revaluer.incremental(
        arrays.set_prices(T0 + timedelta(seconds=3), {SYMBOLS[0]: 9_000})
    )
    assert sorted(figures.account_indices().tolist()) == [0, 1]  # a holder and a short seller
    figures = revaluer.incremental(arrays.set_prices(T0 + timedelta(seconds=6), {SYMBOLS[3]: 1}))
    assert len(figures) == 0  # nobody holds it
    # An unchanged price is no move.
    moves = arrays.set_prices(T0 + timedelta(seconds=9), {SYMBOLS[1]: 20_000})
    assert len(moves.securities) == 0


def test_prices_never_go_backwards_and_carry_their_time() -> None:
    arrays = arrays_of(Book([0], {}, [], [1000] * 5, [0] * 5))
    with pytest.raises(StalePrices):
        arrays.set_prices(T0 - timedelta(seconds=1), {SYMBOLS[0]: 1})
    with pytest.raises(ValueError):
        arrays.set_prices(T0, {SYMBOLS[0]: 0})
    assert arrays.prices_at == T0


def test_a_fair_value_rule_fills_the_valuation_price_and_is_named() -> None:
    book = Book([0], {(0, 0): 1000}, [], [10_000, 1, 1, 1, 1], [5000, 0, 0, 0, 0])
    arrays = arrays_of(book)
    revaluer = Revaluer(arrays)
    at = T0 + timedelta(minutes=1)
    figures = revaluer.incremental(arrays.set_valuation(at, SYMBOLS[0], 8_000, "suspended_index"))
    assert figures.assets_li.tolist() == [8_000_000.0] and figures.prices_at == at
    assert arrays.valuation_rule(SYMBOLS[0]) == "suspended_index"
    # The market keeps quoting; the rule's price stands until cleared.
    moves = arrays.set_prices(at + timedelta(seconds=3), {SYMBOLS[0]: 12_000})
    assert len(moves.securities) == 0 and arrays.securities.market_li[0] == 12_000
    figures = revaluer.incremental(arrays.clear_valuation(at + timedelta(seconds=6), SYMBOLS[0]))
    assert figures.assets_li.tolist() == [12_000_000.0]
    assert arrays.valuation_rule(SYMBOLS[0]) == "last_trade"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books())
def test_compaction_keeps_every_figure(book: Book) -> None:
    arrays = arrays_of(book)
    compact = compacted(arrays)
    for client in arrays.accounts.ids:
        assert client_state(compact, client) == client_state(arrays, client)
    before, after = Revaluer(arrays).full(), Revaluer(compact).full()
    np.testing.assert_array_equal(before.ratio, after.ratio)
    assert compact.prices_at == arrays.prices_at and compact.version > arrays.version


def test_many_positions_overflow_into_chained_blocks() -> None:
    symbols = [f"{600000 + i:06d}.SH" for i in range(30)]
    data = BookData(
        client_ids=["a", "b"],
        symbols=symbols,
        cash_fen=np.asarray([0, 0], dtype=np.int64),
        position_account=np.asarray([0] * 20 + [1], dtype=np.intp),
        position_security=np.asarray([*range(20), 0], dtype=np.intp),
        position_quantity=np.asarray([100] * 21, dtype=np.int64),
        financing=ContractData.empty(),
        shorts=ContractData.empty(),
    )
    arrays = BookArrays(data)
    arrays.set_prices(T0, dict.fromkeys(symbols, 1000))
    revaluer = Revaluer(arrays)
    assert revaluer.full().assets_li.tolist() == [2_000_000.0, 100_000.0]
    # b buys 25 more securities: new blocks at the tail, chained; nothing reloaded.
    for i in range(1, 26):
        txn = ops.transfer_collateral_in(f"t{i}", date(2026, 3, 2), "b", symbols[i], 10)
        revaluer.refresh(arrays.apply(txn))
    assert revaluer.figures(None).assets_li.tolist() == [2_000_000.0, 350_000.0]
    assert len(arrays.slots_of(1)) >= 26 and arrays.blocks.n > arrays.blocks.n_ordered
    assert revaluer.full().assets_li.tolist() == [2_000_000.0, 350_000.0]
    secs = arrays.blocks.sec[arrays.slots_of(1)]
    assert len(set(secs[secs >= 0].tolist())) == len(secs[secs >= 0])  # one slot a security


@given(books())
@settings(max_examples=30, deadline=None)
def test_each_contract_is_found_by_its_id(book: Book) -> None:
    arrays = arrays_of(book)
    for table in (arrays.financing, arrays.shorts):
        assert table.by_id == {cid: c for c, cid in enumerate(table.ids[: table.n])}


def test_a_contract_id_twice_in_a_load_is_refused() -> None:
    data = book_data(Book([0], {}, [], [1000] * 5, [0] * 5))
    twice = ContractData(
        account=np.zeros(2, np.intp),
        security=np.zeros(2, np.intp),
        ids=["f1", "f1"],
        **{name: np.ones(2, np.int64) for name in (
            "outstanding", "charges", "ratio_bp", "open", "price_li", "bought", "amount")},
    )  # fmt: skip
    data.financing = twice
    with pytest.raises(ValueError, match="duplicate contract ids"):
        BookArrays(data)
    # ids known unique (a table's rows) are not checked again: the knowledge is the caller's
    data.financing = replace(twice, ids=["f1", "f2"], ids_unique=True)
    assert BookArrays(data).financing.ids == ["f1", "f2"]


# --- in step with the ledger ------------------------------------------------------------------

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)
PRICES = {"600000.SH": 10_000, "600036.SH": 30_000, "000001.SZ": 12_000, "600519.SH": 1_500_000}
HAIRCUTS = {"600000.SH": Fraction(7, 10), "600036.SH": Fraction(7, 10), "000001.SZ": Fraction(1, 2)}


def _priced(arrays: BookArrays, at: datetime) -> BookArrays:
    arrays.set_haircuts(HAIRCUTS)
    arrays.set_prices(at, PRICES)
    return arrays


def _fill(trade: str, symbol: str, side: Side, price: int, quantity: int, on: date) -> Fill:
    return Fill(trade, f"o-{trade}", symbol, side, price, quantity, on)


def _steps() -> list[Transaction]:
    """The transactions of a small book's day and a half, in posting order."""
    fees = Fees(500, 0, 10)
    f1 = financing_terms("F1", "c1", 2_000_000, 2000, "600000.SH", DAY1)
    f2 = financing_terms("F2", "c1", 1_000_000, 1000, "600000.SH", DAY2)
    f3 = financing_terms("F3", "c2", 1_200_000, 1000, "000001.SZ", DAY1)
    f4 = financing_terms("F4", "c4", 15_000_000, 100, "600519.SH", DAY2)
    s1 = short_terms("S1", "c3", 1000, 3_000_000, "600036.SH", DAY1)
    return [
        ops.fund_pool("pool-cash", DAY1, "CNY", 10**12),
        ops.fund_pool("pool-600036", DAY1, "600036.SH", 10**6),
        ops.deposit_cash("d1", DAY1, "c1", 100_000_000),
        ops.deposit_cash("d2", DAY1, "c2", 50_000_000),
        ops.deposit_cash("d3", DAY1, "c3", 20_000_000),
        ops.transfer_collateral_in("t1", DAY1, "c1", "600000.SH", 10_000),
        ops.transfer_collateral_in("t2", DAY1, "c2", "000001.SZ", 5_000),
        ops.open_financing("m1", f1, fees),
        ops.open_financing("m2", f2, fees),
        ops.open_financing("m3", f3),
        ops.open_short("ss1", s1, fees),
        ops.accrue_charges("a1", DAY2, "c1", "F1", 1234),
        ops.accrue_charges("a2", DAY2, "c3", "S1", 321),
        # c1 sells 11,000 of 13,000 held and repays part of F1: the rest backs F1 only.
        settle_sale(
            OrderKind.SELL_TO_REPAY,
            "c1",
            _fill("x1", "600000.SH", Side.SELL, 9_800, 11_000, DAY2),
            10_780_000,
            fees,
            [Allocation("F1", 1234, 500_000)],
        ),
        ops.repay_financing("r3", DAY2, "c2", [Allocation("F3", 0, 1_200_000)]),
        settle_buy(
            OrderKind.BUY_TO_COVER,
            "c3",
            _fill("x2", "600036.SH", Side.BUY, 29_000, 400, DAY2),
            1_160_000,
            fees,
            from_locked_fen=1_160_510,
            returns=[Allocation("S1", 0, 400)],
        ),
        settle_buy(
            OrderKind.COLLATERAL_BUY,
            "c3",
            _fill("x3", "600036.SH", Side.BUY, 29_500, 200, DAY2),
            590_000,
            Fees(0, 0, 0),
        ),
        ops.return_securities("ret1", DAY2, "c3", "600036.SH", [Allocation("S1", 0, 200)]),
        ops.transfer_collateral_out("t3", DAY2, "c2", "000001.SZ", 5_500),
        ops.withdraw_cash("w1", DAY2, "c1", 1_000_000),
        ops.deposit_cash("d4", DAY2, "c4", 30_000_000),
        ops.open_financing("m4", f4),
        ops.repay_financing("r1", DAY2, "c1", [Allocation("F1", 0, 200_000)]),
    ]


def _same_book(kept: BookArrays, fresh: BookArrays) -> None:
    assert sorted(kept.accounts.ids) == sorted(fresh.accounts.ids)
    mine, theirs = Revaluer(kept).full(), Revaluer(fresh).full()
    for client in fresh.accounts.ids:
        assert client_state(kept, client) == client_state(fresh, client), client
        a, b = kept.account_of(client), fresh.account_of(client)
        assert mine.ratio[a] == theirs.ratio[b]
        assert mine.available_li[a] == pytest.approx(theirs.available_li[b], rel=1e-12, abs=1e-3)
        exact_kept, exact_fresh = exact_account(kept, a), exact_account(fresh, b)
        assert margin.maintenance_ratio(exact_kept) == margin.maintenance_ratio(exact_fresh)
        assert margin.available_margin(exact_kept) == margin.available_margin(exact_fresh)


def test_applying_posted_transactions_equals_a_fresh_load(store: Engine, fixed_clock) -> None:
    ledger = Ledger(store, fixed_clock)
    for client in ("c1", "c2", "c3"):
        open_client(ledger, client)
    kept = _priced(load_book(store), T0)
    revaluer = Revaluer(kept)
    for number, txn in enumerate(_steps()):
        if number == 20:
            open_client(ledger, "c4")  # a client opened after the arrays were loaded
        ledger.post(txn)
        touched = kept.apply(txn)
        figures = revaluer.refresh(touched)
        assert figures.version == kept.version
        fresh = _priced(load_book(store), T0)
        _same_book(kept, fresh)
    # The sums kept by refreshes equal a full pass.
    full = Revaluer(kept).full()
    np.testing.assert_array_equal(revaluer.figures(None).ratio, full.ratio)
    state = client_state(kept, "c1")
    assert state.holdings == (("600000.SH", 2000),)
    # F1 owes 1,300,000 of 2,000,000 (2,000 shares bought): 1,300 needed, held 2,000 → 1,300;
    # F2 (later) needs 1,000 and gets the 700 left.
    assert [(f[0], f[2]) for f in state.financing] == [("F1", 1300), ("F2", 700)]
    assert client_state(kept, "c3").shorts[0][2] == 400  # 1,000 − 400 covered − 200 returned
    assert client_state(compacted(kept), "c1") == state


def test_a_debt_posting_for_an_unseen_contract_is_refused() -> None:
    arrays = arrays_of(Book([0], {}, [], [1000] * 5, [0] * 5))
    txn = ops.accrue_charges("a", DAY1, "c0", "NOPE", 10)
    with pytest.raises(UnknownContract):
        arrays.apply(txn)


def test_a_slot_reused_back_and_forth_is_counted_once() -> None:
    # c0 holds 600000.SH from the bulk load; sells it all, buys 600036.SH into the freed slot,
    # sells that, buys 600000.SH back into the same slot: the index lists the slot under
    # 600000.SH once, so a price move adds its value once.
    book = Book([0], {(0, 0): 1000}, [], [10_000, 20_000, 1, 1, 1], [0] * 5)
    arrays = arrays_of(book)
    revaluer = Revaluer(arrays)
    a, b = SYMBOLS[0], SYMBOLS[1]
    for n, (symbol, quantity) in enumerate([(a, -1000), (b, 500), (b, -500), (a, 300)]):
        txn = (
            ops.transfer_collateral_in(f"in{n}", DAY1, "c0", symbol, quantity)
            if quantity > 0
            else ops.transfer_collateral_out(f"out{n}", DAY1, "c0", symbol, -quantity)
        )
        revaluer.refresh(arrays.apply(txn))
    assert arrays.slots_by_security.get(0).tolist() == [0]
    assert arrays.blocks.sec[0] == 0 and arrays.blocks.qty[0] == 300
    moved = revaluer.incremental(arrays.set_prices(T0 + timedelta(seconds=3), {a: 11_000}))
    assert moved.assets_li.tolist() == [3_300_000.0]
    assert Revaluer(arrays).full().assets_li.tolist() == [3_300_000.0]


def test_each_financing_id_is_ranked_in_id_order_sorted_or_not() -> None:
    assert _id_ranks(["a1", "a2", "b"]).tolist() == [0, 1, 2]  # in order: no sort
    assert _id_ranks(["f2", "f10", "f1"]).tolist() == [2, 1, 0]  # "f10" < "f2" as text
    assert _id_ranks([]).tolist() == []
