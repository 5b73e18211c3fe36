"""The ``liangrong`` command: a thin shell over the packages below it.

Each command group lives in its own module, which exposes ``register(app)``.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="liangrong",
    help="liangrong (两融): the margin financing and securities lending book.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (
    "demo",
    "simulate",
    "account",
    "order",
    "calc",
    "ledger",
    "calendar",
    "risk",
    "stress",
    "stress_history",
    "eod",
    "serve",
    "statement",
    "fees",
    "report",
    "store",
    "drill",
)


@app.callback()
def _root() -> None:
    """liangrong (两融): the margin financing and securities lending book."""


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"liangrong.cli.{name}").register(app)


def main() -> None:
    _register()
    app()
