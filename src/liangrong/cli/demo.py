"""``liangrong demo``: initialise the embedded store, load the demo data, summarise today."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo() -> None:
    """Initialise the store, load the demo reference data and print today's lists and rules."""
    typer.echo("liangrong demo")
