"""Client statements (ACC-5, REP-6): a generated book traded through the book's checks and
fills on two trading days, each closed by the end of day, on a temporary SQLite store; the
statement's figures against values computed here from other sources (the closes and the
projections by hand, ``domain.margin`` on them, the fee schedule, the accrual state rows),
the as-of reconstruction against what was read at the time, JSON, PDF and the command."""

from __future__ import annotations

import json
import re
import sys
import zlib
from dataclasses import dataclass, replace
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from conftest import make_sqlite_engine
from liangrong.book.accounts import ClientProfile
from liangrong.book.loader import load_firm_state, load_mirrors
from liangrong.book.service import Book
from liangrong.cli import statement as statement_cli
from liangrong.domain import margin
from liangrong.domain.contracts import ContractKind
from liangrong.domain.fees import trade_fees
from liangrong.domain.interest import ChargeKind
from liangrong.domain.money import Rounding, round_fraction, trade_amount_fen, yuan_to_fen
from liangrong.domain.orders import AccountType, Order, OrderKind, Side
from liangrong.domain.settlement import Fill
from liangrong.domain.statement import (
    TradeKind,
    ratio_display,
    statement_from_json,
    statement_json,
)
from liangrong.eod.runner import run
from liangrong.eod.settings import EodSettings, opening_accrual
from liangrong.ledger import schema as s
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import contract_balances
from liangrong.reports.statement_render import (
    CJK_PACKAGE,
    NoCjkFont,
    PdfFont,
    find_cjk_font,
    statement_json_bytes,
    statement_pdf_bytes,
    yuan,
)
from liangrong.sim.account_view import UnknownAccount
from liangrong.sim.book_generator import generate_book
from liangrong.sim.reference_day import load_reference_day, opening_market
from liangrong.sim.statement_source import load_statement, load_statements
from liangrong.store.accrual_state import load_accruals
from liangrong.store.closing_prices import load_closing_prices, save_closing_prices
from sim_helpers import DAY, load_reference, reference_clock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import statements as statements_benchmark

NEXT = date(2026, 11, 23)  # the Monday after DAY
WEEKEND = (date(2026, 11, 21), date(2026, 11, 22))
CLIENT, DEBT_FREE = "C000004", "C000010"
BUY, BUY_QTY, SHORT_QTY = "600036.SH", 1_000, 500


@dataclass
class Built:
    engine: Engine
    profiles: dict[str, ClientProfile]
    day_statement: object  # the statement of DAY read on DAY, before anything later
    fills: list[tuple[OrderKind, Fill]]
    short_symbol: str


def _clock():
    ticks = iter(range(10**9))
    return lambda: reference_clock() + timedelta(microseconds=next(ticks))


def _closes_with(engine: Engine, day: date, moves: dict[str, int]) -> dict[str, int]:
    """The day's reference prices with some moved by per-mille, recorded as its closes."""
    prices = dict(opening_market(load_reference_day(engine, day)).prices_li)
    for symbol, per_mille in moves.items():
        prices[symbol] = prices[symbol] * (1000 + per_mille) // 1000
    save_closing_prices(engine, day, prices)
    return prices


def _trade(engine: Engine, clock, profile: ClientProfile) -> tuple[list, str]:
    """A margin buy and a short sale of ``CLIENT`` on NEXT, through the book's checks."""
    ref = load_reference_day(engine, NEXT)
    market = opening_market(ref)
    firm = load_firm_state(engine)
    book = Book(Ledger(engine, clock), market, ref.calendar, firm)
    book.add_client(profile, load_mirrors(engine, [CLIENT])[CLIENT])
    short = next(
        symbol
        for symbol, shares in sorted(firm.lending_pool_available.items())
        if shares >= SHORT_QTY and symbol in ref.firm_lists.short_targets and symbol != BUY
    )
    fills = []
    for number, (kind, symbol, quantity) in enumerate(
        [(OrderKind.MARGIN_BUY, BUY, BUY_QTY), (OrderKind.SHORT_SELL, short, SHORT_QTY)]
    ):
        price = market.prices_li[symbol]
        order = Order(f"o{number}", CLIENT, AccountType.CREDIT, "T001", symbol, kind,
                      kind.side, price, quantity)  # fmt: skip
        assert book.submit(order).code is None
        fill = Fill(f"t{number}", order.order_id, symbol, kind.side, price, quantity, NEXT)
        assert book.on_fill(fill)
        fills.append((kind, fill))
    return fills, short


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("statements")
    engine = make_sqlite_engine(folder)
    load_reference(engine)
    clock = _clock()
    ledger = Ledger(engine, clock)
    generated = generate_book(ledger, load_reference_day(engine, DAY), 7, 12, clock=clock)
    profiles = {p.client_id: p for p in generated.profiles}
    settings = EodSettings(folder / "reports", accrued_through=opening_accrual(engine))
    held = sorted(load_mirrors(engine, [CLIENT])[CLIENT].holdings)
    _closes_with(engine, DAY, {held[0]: 25, held[-1]: -40})
    assert run(engine, DAY, settings).complete
    day_statement = load_statement(engine, CLIENT, DAY, DAY)
    fills, short = _trade(engine, clock, profiles[CLIENT])
    _closes_with(engine, NEXT, {BUY: 30, short: -20})
    assert run(engine, NEXT, settings).complete
    return Built(engine, profiles, day_statement, fills, short)


@pytest.fixture(scope="module")
def read(built: Built):
    """Statements read once per module (each read loads the reference data of its days)."""
    cache: dict[tuple[str, date, date], object] = {}

    def statement(client: str, start: date, end: date):
        key = (client, start, end)
        if key not in cache:
            cache[key] = load_statement(built.engine, client, start, end)
        return cache[key]

    return statement


# --------------------------------------------------------------------------- figures


def _by_hand(engine: Engine, client: str, closes: dict[str, int]) -> margin.Account:
    """The account from the projections now and the recorded closes, every security a plain
    holding (the split between financed and other holdings does not move the ratio)."""
    mirror = load_mirrors(engine, [client])[client]
    owed = [c for c in contract_balances(engine, client) if c.is_open]
    zero = Fraction(0)
    return margin.Account(
        cash_fen=mirror.cash_fen + mirror.locked_fen,
        interest_and_fees_fen=sum(c.charges_outstanding_fen for c in owed),
        holdings=tuple(
            margin.Holding(symbol, quantity, closes[symbol], zero)
            for symbol, quantity in mirror.holdings.items()
        ),
        financing=tuple(
            margin.FinancedPosition(c.terms.security, 0, c.principal_outstanding, 0, zero, zero)
            for c in owed
            if c.terms.kind is ContractKind.FINANCING
        ),
        shorts=tuple(
            margin.ShortPosition(
                c.terms.security, c.principal_outstanding, 0, closes[c.terms.security], zero, zero
            )
            for c in owed
            if c.terms.kind is ContractKind.SHORT
        ),
    )


def test_closing_figures_match_the_margin_formulas_on_the_closes(built: Built, read) -> None:
    statement = read(CLIENT, NEXT, NEXT)
    closes = load_closing_prices(built.engine, NEXT)
    account = _by_hand(built.engine, CLIENT, closes)
    close = statement.closing
    assert close.valued_on == NEXT and close.prices == f"closes of {NEXT}"
    assert close.maintenance_ratio == margin.maintenance_ratio(account)
    assert Fraction(close.total_assets_li, 10) == margin.total_assets(account)
    assert Fraction(close.total_debt_li, 10) == margin.total_debt(account)
    assert close.cash_fen + close.locked_cash_fen == account.cash_fen
    expected_value = sum(h.quantity * h.price_li for h in account.holdings)
    assert close.securities_value_li == expected_value
    ratio = close.maintenance_ratio
    assert ratio is not None
    basis_points = ratio.numerator * 10_000 // ratio.denominator  # truncated, not rounded
    assert ratio_display(ratio) == f"{basis_points // 100}.{basis_points % 100:02d}%"
    assert close.status == margin.RatioStatus.SAFE.value


def test_credit_limits_and_what_remains(built: Built, read) -> None:
    statement = read(CLIENT, NEXT, NEXT)
    profile = built.profiles[CLIENT]
    owed = [c for c in contract_balances(built.engine, CLIENT) if c.is_open]
    financing = sum(c.principal_outstanding for c in owed if c.terms.kind is ContractKind.FINANCING)
    shorts = sum(
        round_fraction(Fraction(c.terms.price_li * c.principal_outstanding, 10), Rounding.HALF_UP)
        for c in owed
        if c.terms.kind is ContractKind.SHORT
    )
    limits = statement.closing.limits
    assert limits is not None
    assert (limits.financing_limit_fen, limits.short_limit_fen, limits.total_limit_fen) == (
        profile.financing_limit_fen, profile.short_limit_fen, profile.total_limit_fen,
    )  # fmt: skip
    assert (limits.financing_used_fen, limits.short_used_fen) == (financing, shorts)
    document = json.loads(statement_json(statement))["closing"]["credit_limits"]
    assert document["financing_remaining_fen"] == profile.financing_limit_fen - financing
    assert document["total_remaining_fen"] == profile.total_limit_fen - financing - shorts


def test_trades_are_the_fills_posted(built: Built, read) -> None:
    statement = read(CLIENT, NEXT, NEXT)
    fees = load_reference_day(built.engine, NEXT).fees
    expected = []
    for kind, fill in built.fills:
        side = Side.BUY if kind is OrderKind.MARGIN_BUY else Side.SELL
        paid = trade_fees(side, fill.quantity * fill.price_li, fees).total_fen
        expected.append(
            (NEXT, f"{'F' if kind is OrderKind.MARGIN_BUY else 'S'}{fill.trade_id}",
             TradeKind(kind.value), fill.symbol, fill.price_li, fill.quantity,
             trade_amount_fen(fill.quantity, fill.price_li), paid)
        )  # fmt: skip
    got = [
        (t.trade_date, t.contract_id, t.kind, t.security, t.price_li, t.quantity, t.amount_fen,
         t.fees_fen)
        for t in statement.trades
    ]  # fmt: skip
    assert got == sorted(expected, key=lambda row: (row[0], row[1]))
    # the day before had no fills of this client; a statement of both days has them once
    assert read(CLIENT, DAY, DAY).trades == ()
    assert read(CLIENT, DAY, NEXT).trades == statement.trades


def test_contracts_and_charges_equal_the_accrual_rows(built: Built, read) -> None:
    statement = read(CLIENT, NEXT, NEXT)
    both = read(CLIENT, DAY, NEXT)
    rows = {}
    for day in (DAY, NEXT):
        state = load_accruals(built.engine, day, unit=1)
        rows[day] = {
            (c, ChargeKind(k)): b
            for k, kind in state.kinds.items()
            for c, b in zip(kind.contract_ids, kind.booked_fen.tolist(), strict=True)
        }
    by_contract = {c.contract_id: c for c in statement.contracts}
    assert set(by_contract) == {
        c.terms.contract_id for c in contract_balances(built.engine, CLIENT) if c.is_open
    }
    for (cid, kind), booked in rows[NEXT].items():
        if cid not in by_contract:
            continue
        day_part = booked - rows[DAY].get((cid, kind), 0)  # booked is cumulative
        assert by_contract[cid].charges_accrued.get(kind, 0) == day_part, (cid, kind)
        whole = {c.contract_id: c for c in both.contracts}[cid]
        assert whole.charges_accrued.get(kind, 0) == booked, (cid, kind)
    # the new financing: one day's interest on its principal; the short: one day's fee on
    # its sale value (used and still owed at the close)
    buy = by_contract["Ft0"]
    assert buy.charges_accrued == {
        ChargeKind.INTEREST: margin.simple_interest(buy.amount_fen, buy.annual_rate, 1)
    }
    short = by_contract["St1"]
    sale_value = Fraction(short.quantity * built.fills[1][1].price_li, 10)
    assert short.charges_accrued == {
        ChargeKind.LENDING_FEE: round_fraction(
            sale_value * short.annual_rate / 360, Rounding.HALF_UP
        )
    }
    assert (buy.principal_owed, short.principal_owed) == (buy.amount_fen, SHORT_QTY)
    assert short.value_li == SHORT_QTY * load_closing_prices(built.engine, NEXT)[built.short_symbol]
    assert statement.charges_accrued_fen == sum(
        booked - rows[DAY].get(key, 0) for key, booked in rows[NEXT].items()
        if key[0] in by_contract
    )  # fmt: skip


def test_a_past_period_reads_as_it_was_then(built: Built, read) -> None:
    """The statement of DAY read after NEXT's trades and end of day equals the one read on
    DAY: the balances as of a close are the projection less the later postings."""
    assert read(CLIENT, DAY, DAY) == built.day_statement
    opening = read(CLIENT, NEXT, NEXT).opening
    assert opening == built.day_statement.closing  # NEXT opens at DAY's close


def test_a_period_with_no_activity(built: Built, read) -> None:
    statement = read(CLIENT, *WEEKEND)
    assert statement.trades == () and statement.charges_accrued_fen == 0
    assert all(not c.charges_accrued for c in statement.contracts)
    # nothing dated in the weekend: it opens and closes at Friday's close
    assert statement.opening == statement.closing == built.day_statement.closing
    quiet = read(DEBT_FREE, NEXT, NEXT)
    assert quiet.contracts == () and quiet.trades == ()
    close = quiet.closing
    assert close.maintenance_ratio is None and close.total_debt_li == 0
    assert close.withdrawable_fen == close.cash_fen  # no debt: all free cash may leave
    assert json.loads(statement_json(quiet))["closing"]["maintenance_ratio"] is None


def test_all_clients_at_once_equal_one_at_a_time(built: Built, read) -> None:
    told = []
    many = list(
        load_statements(
            built.engine, DAY, NEXT, chunk_clients=5, progress=lambda d, t: told.append((d, t))
        )
    )
    assert [s.client_id for s in many] == [f"C{n:06d}" for n in range(1, 13)]
    assert told[0] == (0, 12) and told[-1] == (12, 12) and len(told) == 4
    by_client = {statement.client_id: statement for statement in many}
    for client in (CLIENT, DEBT_FREE):  # one at a time plans the profile alone
        assert by_client[client] == read(client, DAY, NEXT)
    assert all(s.opening is None and s.notes for s in many)  # no reference data before DAY


def test_unknown_client_and_reversed_period(built: Built) -> None:
    with pytest.raises(UnknownAccount, match="C999999"):
        load_statement(built.engine, "C999999", DAY, NEXT)
    with pytest.raises(ValueError, match="before it starts"):
        load_statement(built.engine, CLIENT, NEXT, DAY)


# --------------------------------------------------------------------------- JSON


def test_json_is_canonical_and_reads_back(built: Built, read) -> None:
    statement = read(CLIENT, NEXT, NEXT)
    data = statement_json_bytes(statement)
    document = json.loads(data)
    assert (
        data
        == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert statement_from_json(data.decode()) == statement
    ratio = statement.closing.maintenance_ratio
    assert ratio is not None and Fraction(document["closing"]["maintenance_ratio"]) == ratio
    assert isinstance(document["closing"]["total_assets_li"], int)
    assert document["trades"][0]["price_li"] == built.fills[0][1].price_li
    with pytest.raises(AssertionError):  # an invariant broken on the way back is refused
        document["closing"]["total_debt_li"] += 1
        statement_from_json(json.dumps(document))


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_yuan_text_is_the_exact_fen(amount_fen: int) -> None:
    text = yuan(amount_fen)
    assert yuan_to_fen(text.replace(",", "")) == amount_fen
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d\d", text)


# --------------------------------------------------------------------------- PDF


def _streams(pdf: bytes) -> list[bytes]:
    found = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        raw = pdf[match.end() : pdf.find(b"endstream", match.end())]
        try:
            found.append(zlib.decompressobj().decompress(raw))
        except zlib.error:
            continue
    return found


def _texts(pdf: bytes) -> set[str]:
    """The page text decoded through each font's ToUnicode map (one reading per map: the
    run of a font reads right through its own map)."""
    streams = _streams(pdf)
    maps = []
    for data in streams:
        if b"beginbfchar" in data:
            pairs = re.findall(rb"<([0-9a-f]+)>\s*<([0-9a-f]+)>", data.split(b"beginbfchar", 1)[1])
            maps.append(
                {int(a, 16): bytes.fromhex(b.decode()).decode("utf-16-be") for a, b in pairs}
            )
    # WeasyPrint's fonts are Identity-H: two bytes (four hex digits) a glyph, several glyphs
    # to a hex string.
    runs = [
        [h[i : i + 4] for h in re.findall(rb"<([0-9a-f]+)>", array) for i in range(0, len(h), 4)]
        for data in streams
        for array in re.findall(rb"\[([^\]]*)\]\s*TJ", data)
    ]
    return {"\n".join("".join(m.get(int(g, 16), "?") for g in run) for run in runs) for m in maps}


def _fonts(pdf: bytes) -> tuple[list[str], int]:
    streams = b"".join(_streams(pdf)) + pdf
    names = [n.decode() for n in re.findall(rb"/BaseFont\s*/([A-Za-z0-9+\-_]+)", streams)]
    return names, len(re.findall(rb"/FontFile[23]?\b", streams))


def test_pdf_layout_with_a_latin_font(built: Built, read) -> None:
    """The layout and the text layer, whatever fonts the machine has (Chinese glyphs may be
    missing here; the next test checks them)."""
    statement = read(CLIENT, NEXT, NEXT)
    pdf = statement_pdf_bytes(statement, PdfFont("DejaVu Sans", ""))
    assert pdf.startswith(b"%PDF-")
    names, embedded = _fonts(pdf)
    assert embedded >= 1 and names
    text = "\n".join(_texts(pdf))
    for expected in (CLIENT, "Margin Account Statement", "Maintenance ratio", "Ft0", "St1",
                     ratio_display(statement.closing.maintenance_ratio)):  # fmt: skip
        assert expected in text, expected


def _cjk_font() -> PdfFont | None:
    try:
        return find_cjk_font()
    except NoCjkFont:
        return None


@pytest.mark.skipif(
    _cjk_font() is None,
    reason=f"no font for Chinese is installed: run.py must apt-install {CJK_PACKAGE}",
)
def test_pdf_embeds_a_cjk_font_and_shows_the_client(built: Built, read) -> None:
    statement = read(CLIENT, NEXT, NEXT)
    pdf = statement_pdf_bytes(statement)
    names, embedded = _fonts(pdf)
    assert embedded >= 1
    assert any("CJK" in n or "Noto" in n for n in names), names
    text = "\n".join(_texts(pdf))
    assert CLIENT in text and statement.holder_name in text and "维持担保比例" in text


def test_without_fontconfig_the_error_names_the_package(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")  # no fc-list on the path: no font can be found
    with pytest.raises(NoCjkFont, match=CJK_PACKAGE):
        find_cjk_font()
    result = _invoke(built, "--format", "pdf", "--out", "-")
    assert result.exit_code == 1 and CJK_PACKAGE in result.stderr


# --------------------------------------------------------------------------- command


def _invoke(built: Built, *args: str, client: str = CLIENT, period=(NEXT, NEXT)):
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """test root"""

    statement_cli.register(app)
    start, end = (d.isoformat() for d in period)
    store = str(built.engine.url)
    argv = ["statement", client, "--from", start, "--to", end, *args, "--store", store]
    return CliRunner().invoke(app, argv)


def test_command_writes_json_to_stdout_and_to_a_file(built: Built, read, tmp_path: Path) -> None:
    expected = statement_json_bytes(read(CLIENT, NEXT, NEXT))
    result = _invoke(built, "--format", "json", "--out", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == expected
    target = tmp_path / "out" / "c4.json"
    result = _invoke(built, "--format", "json", "--out", str(target))
    assert result.exit_code == 0 and target.read_bytes() == expected
    assert f"wrote {target}" in result.stdout


def test_command_refusals(built: Built) -> None:
    unknown = _invoke(built, "--format", "json", client="C999999")
    assert unknown.exit_code == 1 and "no credit account of C999999" in unknown.stderr
    reversed_period = _invoke(built, "--format", "json", period=(NEXT, DAY))
    assert reversed_period.exit_code == 2


# --------------------------------------------------------------------------- benchmark


def test_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    figures = statements_benchmark.main(["--clients", "20", "--minutes", "1", "--pdf", "1"])
    assert figures["statements"] == 20 and figures["json_per_s"] > 0
    assert figures["contracts"] > 0
    out = capsys.readouterr().out
    assert "statements/s" in out and ("PDF:" in out or CJK_PACKAGE in out)


def test_statement_value_checks_its_invariants(built: Built, read) -> None:
    statement = read(CLIENT, NEXT, NEXT)
    with pytest.raises(AssertionError):
        replace(statement, contracts=statement.contracts[1:])  # the debt no longer adds up
    with pytest.raises(AssertionError):
        replace(statement, period_start=NEXT + timedelta(days=1))
    # the as-of balances are learnt by the mirror only: nothing reached the journal
    posted = select(s.journal_transactions.c.seq).where(
        s.journal_transactions.c.kind == "balances_as_of"
    )
    with built.engine.connect() as conn:
        assert conn.execute(posted).all() == []
