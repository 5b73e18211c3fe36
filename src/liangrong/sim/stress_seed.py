"""The demo firm's stress-test scenario sets (RISK-12), dated like every firm parameter, and
the demo market data a stress test reads: betas, daily volumes and the real CSI 300 history.

The scenario set is the demo risk committee's: uniform falls of 10% and 20%, a 20% fall of
each growth board, and the three historical replays (2008, 2015, early 2024).  It is
reference data: ``seed_stress_scenarios`` records it in the store
(``store.stress_records``), where the end of day reads the version in force.

Betas and a day's volume per security are the seeded price simulator's static draws
(``sim.prices``) with ``MARKET_SEED``, the seed ``liangrong stress run`` defaults to, so the
end of day and the command shock the book alike.  A historical preset replays its named
window from the first close to the lowest (``PRESET_WINDOWS``), as the command does.

Invariants: the same texts, betas and history give the same scenarios (integers only, see
``domain.stress``); a scenario's name is its text, whatever window it replays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import Engine

from liangrong.domain import stress
from liangrong.domain.securities import Board
from liangrong.domain.versions import History, Version
from liangrong.risk.columns import FloatArray
from liangrong.risk.fair_values import index_levels
from liangrong.sim.index_history import IndexHistory, load_csi300
from liangrong.sim.reference_day import ReferenceDay, price_simulator
from liangrong.store.reference import Clock
from liangrong.store.stress_records import ScenarioTexts, save_scenario_sets

MARKET_SEED = 1  # cli.simulate.DEFAULT_SEED: the betas and volumes `stress run` reads
PRESET_WINDOWS = {"2008": "2008", "2015": "2015-06..08", "2024-01": "2024-01"}

DEMO_SCENARIOS: ScenarioTexts = (
    "uniform:-10",
    "uniform:-20",
    "board:STAR:-20",
    "board:CHINEXT:-20",
    "2008",
    "2015",
    "2024-01",
)


def stress_scenario_history() -> History[ScenarioTexts]:
    return History(
        (
            Version(
                "stress-2024",
                date(2024, 1, 2),
                DEMO_SCENARIOS,
                "demo risk committee: daily stress scenarios, 2024",
            ),
        )
    )


def seed_stress_scenarios(engine: Engine, *, clock: Clock) -> int:
    """Record the demo scenario sets (idempotent: 0 when the store has them)."""
    return save_scenario_sets(engine, stress_scenario_history().versions, clock=clock)


# --- scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltScenario:
    scenario: stress.Scenario
    window: tuple[date, date] | None  # the index closes a replay compounds (first, last)


def replay_window(spec: stress.ScenarioSpec, history: IndexHistory) -> IndexHistory:
    """The closes a historical spec replays: a preset from its first close to its lowest."""
    if spec.preset is not None:
        window = history.named(PRESET_WINDOWS[spec.preset])
        trough = int(np.argmin(window.close))
        return window.window(window.dates[0], window.dates[trough])
    assert spec.first is not None and spec.last is not None
    return history.window(spec.first, spec.last)


def build_scenarios(texts: Iterable[str], betas_bp: dict[str, int]) -> list[BuiltScenario]:
    """Each text's scenario, named by its text; replays over the shipped CSI 300 closes."""
    built = []
    for text in texts:
        spec = stress.parse_scenario(text)
        if spec.kind is not stress.Kind.HISTORY:
            built.append(BuiltScenario(stress.shock(spec), None))
            continue
        window = replay_window(spec, load_csi300())
        closes = list(index_levels(window.dates, window.close).values())
        span = (window.dates[0], window.dates[-1])
        built.append(BuiltScenario(stress.replay(text, closes, betas_bp), span))
    return built


# --- market data ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StressMarket:
    """Per security of a book (in its order): board and a day's volume; betas by symbol."""

    boards: tuple[Board, ...]
    daily_volume: FloatArray
    betas_bp: dict[str, int]


def stress_market(ref: ReferenceDay, symbols: Sequence[str]) -> StressMarket:
    simulator = price_simulator(ref, MARKET_SEED)
    betas = simulator.beta.tolist()
    betas_bp = {s: round(b * 10_000) for s, b in zip(simulator.symbols, betas, strict=True)}
    volume = dict(zip(simulator.symbols, simulator.daily_volume.tolist(), strict=True))
    boards = tuple(ref.securities[s].board if s in ref.securities else Board.NONE for s in symbols)
    daily = np.asarray([volume.get(s, 0.0) for s in symbols], dtype=np.float64)
    return StressMarket(boards, daily, betas_bp)
