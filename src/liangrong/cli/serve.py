"""``liangrong serve``, and the main job behind ``liangrong demo``: the HTTP service on the
store with the seeded demo book, the simulated market and the clients' orders in the
background, the risk engine shown at work, the end of day at the close.

The service is up while the market runs, so users can call it during the day; after the end
of day it stays up until interrupted, or, with ``--until-eod``, stops and exits 0 (for
scripts).  The demo users' keys are printed once, when they are issued.
"""

from __future__ import annotations

import socket
import sys
import threading
import time as timer
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table
from sqlalchemy import Engine

from liangrong.api.app import create_app
from liangrong.api.service import IssuedKey, Service, open_service
from liangrong.cli.eod import eod_progress, step_bars
from liangrong.cli.simulate import DEFAULT_SEED, parse_date, print_session
from liangrong.cli.store_option import open_store, store_option
from liangrong.domain.margin import RatioStatus
from liangrong.eod.files import day_dir
from liangrong.eod.runner import RunReport
from liangrong.eod.settings import DEFAULT_REPORTS_DIR
from liangrong.eod.steps import STEPS
from liangrong.ledger.digest import journal_digest
from liangrong.sim.book_generator import BookMismatch
from liangrong.sim.reference_day import NoReferenceData
from liangrong.sim.session import MAX_MINUTES, SessionConfig, SessionRefused

# The main job's day: the whole continuous session for a book small enough to trade it in
# about a minute on the project's 2-core machine.
SERVE_CLIENTS = 300
HOST = "127.0.0.1"
DEFAULT_PORT = 8000
REFRESH_SECONDS = 0.25


# The main job's options, shared by ``serve`` and ``demo``.
ClientsOption = Annotated[
    int, typer.Option("--clients", min=1, help="Clients in the session's book.")
]
MinutesOption = Annotated[
    int, typer.Option("--minutes", min=1, max=MAX_MINUTES, help="Minutes the market runs.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seeds the book, prices and orders.")]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535, help="The API's port.")]
PaceOption = Annotated[
    float, typer.Option("--pace", min=0, help="Snapshots a second (0: as fast as it goes).")
]
UntilEodOption = Annotated[
    bool | None,
    typer.Option(
        "--until-eod/--keep-serving",
        help="Exit 0 after the end of day (for scripts), or keep serving until Ctrl-C "
        "(default: keep serving when run from a terminal).",
    ),
]
ReportsOption = Annotated[Path, typer.Option("--reports", help="Folder of the day's report files.")]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    clients: int = SERVE_CLIENTS
    minutes: int = MAX_MINUTES
    seed: int = DEFAULT_SEED
    port: int = DEFAULT_PORT
    pace: float = 0.0
    until_eod: bool = False
    reports: Path = DEFAULT_REPORTS_DIR


def serve(
    on: Annotated[
        str | None, typer.Option("--date", help="Trading day, YYYY-MM-DD (default: today).")
    ] = None,
    clients: ClientsOption = SERVE_CLIENTS,
    minutes: MinutesOption = MAX_MINUTES,
    seed: SeedOption = DEFAULT_SEED,
    port: PortOption = DEFAULT_PORT,
    pace: PaceOption = 0.0,
    until_eod: UntilEodOption = None,
    reports: ReportsOption = DEFAULT_REPORTS_DIR,
    store: str = store_option(),
) -> None:
    """Serve the book over HTTP while the simulated market trades, then run the end of day."""
    until = until_eod_default(until_eod)
    options = ServeOptions(clients, minutes, seed, port, pace, until, reports)
    raise typer.Exit(run_main_job(open_store(store), parse_date(on), options))


def until_eod_default(asked: bool | None) -> bool:
    """Unless told, serve on after the end of day only for a person at a terminal: a script
    or a CI job that starts the main job must get its exit status, not a service."""
    return asked if asked is not None else not sys.stdin.isatty()


def run_main_job(engine: Engine, on: object, options: ServeOptions, refused_status: int = 1) -> int:
    """The whole day; the exit status (0 when the day ended, its end of day complete;
    ``refused_status`` when the store cannot take the day's session)."""
    err, out = Console(stderr=True), Console()
    config = SessionConfig(options.clients, options.minutes, options.seed, on)  # type: ignore[arg-type]
    try:
        service = _open(engine, config, options, err)
    except (SessionRefused, BookMismatch, NoReferenceData) as exc:
        err.print(f"no session: {exc}")
        return refused_status
    keys = service.demo_users(sorted(service.session.book.profiles)[0])
    server, url = _start_server(service, options.port, err)
    out.print(f"API at {url}/api/v1 — documentation at {url}/docs (OpenAPI: {url}/openapi.json)")
    _print_keys(out, keys)
    service.market.start()
    _watch_market(service, err)
    if service.market.state.failure:
        err.print(f"[red]the market stopped:[/red] {service.market.state.failure}")
        return 1
    report = _run_eod(service, err)
    session = service.session
    session.summary.journal = journal_digest(engine)
    print_session(out, session.summary)
    _print_eod(out, report, day_dir(options.reports, session.day))
    out.print(f"API at {url}/api/v1 — documentation at {url}/docs")
    if not options.until_eod:
        out.print("serving until interrupted (Ctrl-C)")
        _wait_for_interrupt(server)
    server.should_exit = True
    return 0 if report.complete else 1


def _open(engine: Engine, config: SessionConfig, options: ServeOptions, err: Console) -> Service:
    with step_bars(err) as bar:
        task: list[TaskID] = []

        def progress(phase: str, done: int, total: int) -> None:
            if not task:
                task.append(bar.add_task(phase, total=total))
            bar.update(task[0], completed=done)

        return open_service(
            engine, config, options.reports, pace=options.pace, progress=progress,
        )  # fmt: skip


def _bound_socket(port: int) -> socket.socket:
    """The port asked for, or (taken) one the system gives."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.bind((HOST, 0))
    return sock


def _start_server(service: Service, port: int, err: Console) -> tuple[uvicorn.Server, str]:
    sock = _bound_socket(port)
    bound = sock.getsockname()[1]
    if bound != port and port:
        err.print(f"port {port} is taken: serving on {bound}")
    config = uvicorn.Config(create_app(service), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        timer.sleep(0.05)
    return server, f"http://{HOST}:{bound}"


def _print_keys(out: Console, keys: list[IssuedKey]) -> None:
    if not keys:
        out.print("users: issued on an earlier start of this store (keys were printed then)")
        return
    table = Table("user", "role", "client", "X-API-Key", title="Users (keys shown once)")
    for k in keys:
        table.add_row(k.user_id, k.role.value, k.client_id or "", k.key)
    out.print(table)


def _risk_text(service: Service) -> str:
    counts = service.session.desk.risk.statuses.counts()
    below = [f"{s.value} {counts.get(s, 0):,}" for s in RatioStatus if s is not RatioStatus.SAFE]
    return f"{service.session.at:%H:%M:%S} " + " · ".join(below)


def _watch_market(service: Service, err: Console) -> None:
    """A bar for the market's snapshots, described by the risk engine's counts now."""
    market = service.market
    with step_bars(err) as bar:
        task = bar.add_task("market", total=service.session.total_snapshots)
        while True:
            finished = market.wait(REFRESH_SECONDS)
            with market.lock:
                done, text = service.session.summary.snapshots, _risk_text(service)
            bar.update(task, completed=done, description=text)
            if finished:
                return


def _run_eod(service: Service, err: Console) -> RunReport:
    with eod_progress(err) as progress:
        return service.market.run_eod(progress)


def _print_eod(out: Console, report: RunReport, folder: Path) -> None:
    table = Table("step", "digest", title=f"End of day {report.trading_date}")
    for step in STEPS:
        record = report.records.get(step.name)
        table.add_row(step.name, record.digest[:16] if record else "(not run)")
    out.print(table)
    out.print(f"the day's reports: {folder.resolve()}")


def _wait_for_interrupt(server: uvicorn.Server) -> None:
    try:
        while not server.should_exit:
            timer.sleep(0.5)
    except KeyboardInterrupt:
        pass
