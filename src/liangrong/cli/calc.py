"""``liangrong calc``: one JSON account snapshot in (file or stdin), the margin figures out.

The JSON I/O lives here; the calculation is ``liangrong.domain.calculator``.  Any malformed
input (unreadable file, invalid JSON, a bad field) prints ``error: <field>: <message>`` on
stderr and exits with code 2.  Schema and examples: docs/calculator.md.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from liangrong.domain.calculator import SnapshotError, calculate

EXIT_MALFORMED = 2


def register(app: typer.Typer) -> None:
    app.command("calc")(calc)


def calc(
    source: Annotated[
        str,
        typer.Argument(help="Path of a JSON account snapshot; '-' or nothing reads stdin."),
    ] = "-",
) -> None:
    """Compute the maintenance ratio, available margin, status and any questions asked."""
    document = _decode(_read(source))
    try:
        result = calculate(document)
    except SnapshotError as exc:
        _fail(exc.field, exc.message)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(source, f"cannot read: {exc}")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _decode(text: str) -> object:
    try:
        # Decimal keeps 0.7 as 0.7 exactly; NaN and Infinity are refused, not turned to floats.
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        _fail("input", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    except ValueError as exc:
        _fail("input", str(exc))


def _fail(field: str, message: str) -> NoReturn:
    typer.echo(f"error: {field}: {message}", err=True)
    raise typer.Exit(code=EXIT_MALFORMED)


def main() -> None:
    """Run ``calc`` alone: ``python -m liangrong.cli.calc [PATH]``."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
