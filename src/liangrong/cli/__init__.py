"""The ``liangrong`` command: a thin shell over the packages below it.

Each command group lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="liangrong",
    help="liangrong (两融): the margin financing and securities lending book.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """liangrong (两融): the margin financing and securities lending book."""


def _register() -> None:
    from liangrong.cli import demo

    demo.register(app)


def main() -> None:
    _register()
    app()
