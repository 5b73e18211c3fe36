"""The main job (issue #5 item 8): ``liangrong demo --until-eod`` serves the book, trades a
day, runs the end of day at the close, prints where the API, its documentation and the
reports are, and exits 0; the service answers over real HTTP while the market runs."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import typer
from rich.console import Console
from typer.testing import CliRunner

from api_helpers import open_live
from conftest import make_sqlite_engine
from liangrong.cli import demo, serve
from liangrong.cli import order as order_cli
from liangrong.cli.serve import _start_server
from liangrong.eod.steps import STEP_NAMES


def _app() -> typer.Typer:
    app = typer.Typer()
    demo.register(app)
    serve.register(app)
    return app


def test_the_main_job_runs_a_whole_day_and_exits_0(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/store.sqlite"
    reports = tmp_path / "reports"
    args = ["demo", "--date", "2026-11-20", "--clients", "12", "--minutes", "3", "--port", "0",
            "--until-eod", "--reports", str(reports), "--store", store]  # fmt: skip
    result = CliRunner().invoke(_app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"API at http://127\.0\.0\.1:\d+/api/v1", out)
    assert re.search(r"documentation at http://127\.0\.0\.1:\d+/docs", out)
    for user in ("desk", "risk", "ops", "audit", "client-C000001"):
        assert re.search(rf"{re.escape(user)}\s.*\s[A-Za-z0-9_-]{{32}}\s", out), user
    folder = reports / "20261120"
    assert f"the day's reports: {folder.resolve()}" in out
    assert any(p.name.startswith("rzrq_daily_SH_20261120") for p in folder.iterdir())
    for step in STEP_NAMES:
        assert re.search(rf"{step}\W+[0-9a-f]{{16}}", out), step
    assert "journal sha256:" in out and "Risk engine: accounts below each line" in out
    again = CliRunner().invoke(_app(), args, env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "no session" in again.output
    assert "one session per trading day" in again.output


def test_the_service_answers_over_http(tmp_path: Path) -> None:
    live = open_live(make_sqlite_engine(tmp_path), tmp_path / "reports", clients=6, minutes=1)
    server, url = _start_server(live.service, 0, Console())
    try:
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        me = httpx.get(f"{url}/api/v1/me", headers=live.headers("risk")).json()
        assert me["role"] == "risk_officer" and "liquidate" in me["actions"]
        docs = httpx.get(f"{url}/openapi.json").json()
        assert "/api/v1/orders" in docs["paths"]
        assert docs["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    finally:
        server.should_exit = True


def test_the_order_commands_place_list_and_cancel_through_the_service(tmp_path: Path) -> None:
    live = open_live(make_sqlite_engine(tmp_path), tmp_path / "reports", clients=6, minutes=1)
    session = live.service.session
    session.step()
    symbol = max(session.book.mirrors[live.own].holdings)
    tick = session.book.market.securities[symbol].tick_li
    price_li = session.book.market.prices_li[symbol] * 97 // 100 // tick * tick
    server, url = _start_server(live.service, 0, Console())
    app = typer.Typer()
    order_cli.register(app)
    env = {"LIANGRONG_API": url, "LIANGRONG_API_KEY": live.keys["client"], "COLUMNS": "200"}
    try:
        price = f"{price_li / 1000:.3f}"
        head = ["order", "place", live.own, "collateral_buy", symbol, "--price", price]
        args = [*head, "--quantity", "100", "--id", "CLI-1"]
        placed = CliRunner().invoke(app, args, env=env)
        assert placed.exit_code == 0, placed.output
        assert "CLI-1" in placed.stdout and "open" in placed.stdout
        assert session.book.orders["CLI-1"].order.quantity == 100
        listed = CliRunner().invoke(app, ["order", "list", "--open"], env=env)
        assert listed.exit_code == 0 and "CLI-1" in listed.stdout
        odd_lot = [*head, "--quantity", "150"]  # not a whole lot: the book's code, exit 3
        odd = CliRunner().invoke(app, odd_lot, env=env)
        assert odd.exit_code == 3 and "REFUSED" in odd.output
        cancelled = CliRunner().invoke(app, ["order", "cancel", "CLI-1"], env=env)
        assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
        again = CliRunner().invoke(app, ["order", "cancel", "CLI-1"], env=env)
        assert again.exit_code == 1 and "CONFLICT" in again.output
        nokey = CliRunner().invoke(app, ["order", "list"], env={**env, "LIANGRONG_API_KEY": "x"})
        assert nokey.exit_code == 1 and "UNAUTHENTICATED" in nokey.output
    finally:
        server.should_exit = True
