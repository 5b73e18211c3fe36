"""Stores with the demo reference data, for the generator, session and account tests."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine

from liangrong.sim.demo_loader import load_demo
from liangrong.sim.session import CST

DAY = date(2026, 11, 20)  # a Friday


def reference_clock() -> datetime:
    return datetime(2026, 11, 20, 8, 0, tzinfo=CST)


def load_reference(engine: Engine, on: date = DAY) -> None:
    load_demo(engine, on, clock=reference_clock)
