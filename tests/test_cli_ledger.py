"""``liangrong ledger rebuild|check|balances`` on a real SQLite store."""

from __future__ import annotations

import typer
from sqlalchemy import text
from typer.testing import CliRunner

from cli_helpers import cli_app
from ledger_helpers import DAY, financing_terms, open_client
from liangrong.cli import ledger as ledger_cli
from liangrong.domain import accounts as acc
from liangrong.domain import operations as ops
from liangrong.ledger.engine import open_engine
from liangrong.ledger.journal import Ledger
from liangrong.store.migrate import upgrade


def make_app() -> typer.Typer:
    return cli_app(ledger_cli)


def seeded_store(tmp_path, fixed_clock) -> str:
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    engine = open_engine(url)
    upgrade(engine)
    book = Ledger(engine, fixed_clock)
    book.post(ops.fund_pool("fund", DAY, acc.CASH_ASSET, 1_000_000_00))
    open_client(book, "C1")
    book.post(ops.deposit_cash("dep", DAY, "C1", 50_000_00))
    book.post(ops.open_financing("buy", financing_terms("F-1", "C1", 20_000_00)))
    engine.dispose()
    return url


def test_rebuild_reports_identical_on_a_sound_store(tmp_path, fixed_clock) -> None:
    url = seeded_store(tmp_path, fixed_clock)
    result = CliRunner().invoke(make_app(), ["ledger", "rebuild", "--store", url])
    assert result.exit_code == 0, result.output
    assert "rebuilt from 3 transactions" in result.output and "identical" in result.output


def test_rebuild_repairs_a_tampered_projection_and_says_so(tmp_path, fixed_clock) -> None:
    url = seeded_store(tmp_path, fixed_clock)
    engine = open_engine(url)
    with engine.begin() as conn:  # projections are not protected: they are derived
        conn.execute(
            text("UPDATE balances SET amount = amount + 1 WHERE account = 'firm:financing_pool'")
        )
    engine.dispose()
    runner = CliRunner()
    first = runner.invoke(make_app(), ["ledger", "rebuild", "--store", url])
    assert first.exit_code == 1 and "DIFFERENT" in first.output
    second = runner.invoke(make_app(), ["ledger", "rebuild", "--store", url])
    assert second.exit_code == 0 and "identical" in second.output
    balances = runner.invoke(
        make_app(), ["ledger", "balances", "firm:financing_pool", "--store", url]
    )
    assert "980000.00" in balances.output


def test_check_reports_conservation(tmp_path, fixed_clock) -> None:
    url = seeded_store(tmp_path, fixed_clock)
    result = CliRunner().invoke(make_app(), ["ledger", "check", "--store", url])
    assert result.exit_code == 0 and "sums to zero" in result.output


def test_post_applies_a_manual_transaction_once_and_refuses_bad_ones(tmp_path, fixed_clock) -> None:
    import json

    url = seeded_store(tmp_path, fixed_clock)
    document = {
        "command_id": "ops-refund-1",
        "business_date": "2026-03-02",
        "kind": "withdrawal",
        "legs": [
            {
                "purpose": "withdraw_surplus",
                "postings": [
                    [acc.client_cash("C1"), "CNY", -1_000_00],
                    [acc.client_bank("C1"), "CNY", 1_000_00],
                ],
            }
        ],
    }
    path = tmp_path / "txn.json"
    path.write_text(json.dumps(document))
    runner = CliRunner()
    first = runner.invoke(make_app(), ["ledger", "post", str(path), "--store", url])
    again = runner.invoke(make_app(), ["ledger", "post", str(path), "--store", url])
    assert first.exit_code == 0 and "posted" in first.output
    assert again.exit_code == 0 and "already applied" in again.output
    document["legs"][0]["purpose"] = "pay_another_client"
    document["command_id"] = "ops-bad"
    path.write_text(json.dumps(document))
    bad = runner.invoke(make_app(), ["ledger", "post", str(path), "--store", url])
    assert bad.exit_code == 2 and "UNKNOWN_PURPOSE" in bad.output
    balances = runner.invoke(
        make_app(), ["ledger", "balances", "firm:collateral_cash:", "--store", url]
    )
    assert "49000.00" in balances.output
