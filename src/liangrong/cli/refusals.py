"""How a command reports a ``BilingualRefused``: its code and reason in both languages and
the detail on stderr, exit status 1 (nothing was changed)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from liangrong.domain.bilingual import BilingualRefused


def refused_exit(exc: BilingualRefused) -> typer.Exit:
    err = Console(stderr=True)
    err.print(f"[red]refused[/red] {exc.code.name}: {escape(exc.code.en)} / {exc.code.zh}")
    err.print(f"  {escape(exc.detail)}")
    return typer.Exit(1)
