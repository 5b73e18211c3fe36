"""``liangrong account show`` and ``liangrong order check`` on a generated book: the figures
are the margin formulas over the ledger, a check decides like the book and writes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import typer
from typer.testing import CliRunner

from cli_helpers import cli_app
from conftest import make_sqlite_engine
from liangrong.cli import account as account_cli
from liangrong.cli import order as order_cli
from liangrong.domain import operations as ops
from liangrong.domain.fees import trade_fees
from liangrong.domain.money import fen_to_yuan_text, li_to_yuan_text, trade_amount_fen
from liangrong.domain.orders import Side
from liangrong.domain.pretrade_state import AccountStatus
from liangrong.ledger.digest import journal_digest
from liangrong.ledger.journal import Ledger
from liangrong.sim.account_view import load_account
from liangrong.sim.book_generator import generate_book
from liangrong.sim.reference_day import load_reference_day
from sim_helpers import DAY, load_reference, reference_clock

SYMBOL = "600036.SH"


def ticking():
    ticks = iter(range(10**9))
    return lambda: reference_clock() + timedelta(microseconds=next(ticks))


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("accounts")
    engine = make_sqlite_engine(folder)
    load_reference(engine)
    clock = ticking()
    ledger = Ledger(engine, clock)
    generated = generate_book(ledger, load_reference_day(engine, DAY), 21, 30, clock=clock)
    ledger.open_credit_account("open-X1", "X1", "SH", "赵六", "赵六", date(2026, 1, 5))
    ledger.post(ops.deposit_cash("dep-X1", DAY, "X1", 1_000_000))
    url = str(engine.url)
    yield engine, url, generated
    engine.dispose()


def make_app() -> typer.Typer:
    return cli_app(account_cli, order_cli)


def invoke(*args: str):
    return CliRunner().invoke(make_app(), list(args), env={"COLUMNS": "250"})


def test_show_prints_positions_contracts_and_the_ratio(book) -> None:
    engine, url, generated = book
    client = next(
        p.client_id
        for p, ratio in zip(generated.profiles, generated.ratios, strict=True)
        if ratio is not None
    )
    result = invoke("account", "show", client, "--date", "2026-11-20", "--store", url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    view = load_account(engine, client, DAY)
    assert view.ratio == generated.ratios[int(client[1:]) - 1]
    assert view.holder_name == generated.profiles[int(client[1:]) - 1].name
    assert f"{client} {view.holder_name}" in out
    assert "figures at reference prices of 2026-11-20" in out
    assert account_cli.percent(view.ratio) in out
    for contract in view.mirror.contracts:
        assert contract in out
    for symbol, quantity in view.mirror.holdings.items():
        assert symbol in out and f"{quantity:,}" in out
    assert "exchange:2026-01-14/firm:2026-01-14" in out
    assert view.status.value in out and "liquidation 130.00%" in out


def test_show_of_a_client_without_debt_or_profile(book) -> None:
    _, url, _ = book
    out = invoke("account", "show", "X1", "--store", url).stdout
    assert "none (no debt)" in out and "everything (no debt)" in out
    assert "not a generated client" in out and "10000.00" in out
    unknown = invoke("account", "show", "C999999", "--store", url)
    assert unknown.exit_code == 1 and "no credit account of C999999" in unknown.stderr


def test_check_accepts_and_shows_what_the_order_would_hold(book) -> None:
    engine, url, generated = book
    before = journal_digest(engine)
    view = next(
        v
        for v in (load_account(engine, p.client_id, DAY) for p in generated.profiles)
        if v.profile.status is AccountStatus.NORMAL and v.state.cash_free_fen > 10_000_000
    )
    price = view.market.prices_li[SYMBOL]
    args = ("order", "check", view.client_id, "collateral_buy", SYMBOL, "--price")
    result = invoke(*args, li_to_yuan_text(price), "--quantity", "1000", "--store", url)
    assert result.exit_code == 0, result.output
    assert "ACCEPTED" in result.stdout and "nothing was sent or posted" in result.stdout
    fees = trade_fees(Side.BUY, 1000 * price, view.ref.fees)
    cost = trade_amount_fen(1000, price) + fees.total_fen
    assert "free cash" in result.stdout and fen_to_yuan_text(cost) in result.stdout
    assert journal_digest(engine) == before  # nothing was written


def test_check_refuses_with_the_code_and_exit_3(book) -> None:
    _, url, generated = book
    client = generated.profiles[0].client_id
    far = ("order", "check", client, "collateral_buy", SYMBOL, "--price", "999.00")
    refused = invoke(*far, "--quantity", "100", "--store", url)
    assert refused.exit_code == 3
    assert "REFUSED PRICE_OUTSIDE_LIMITS" in refused.stdout
    wrong = invoke("order", "check", client, "forced_sell", SYMBOL, "--price", "1", "--quantity",
                   "100", "--store", url)  # fmt: skip
    assert wrong.exit_code == 2
    no_profile = invoke("order", "check", "X1", "collateral_buy", SYMBOL, "--price", "1.00",
                        "--quantity", "100", "--store", url)  # fmt: skip
    assert no_profile.exit_code == 1 and "no profile" in no_profile.stderr
