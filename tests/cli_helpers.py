"""A test root for the CLI's command groups: each module's ``register(app)`` on one app, with
a root callback so that a single group is still invoked by its name."""

from __future__ import annotations

from typing import Protocol

import typer


class CommandModule(Protocol):
    def register(self, app: typer.Typer) -> None: ...


def cli_app(*modules: CommandModule) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """test root"""

    for module in modules:
        module.register(app)
    return app
