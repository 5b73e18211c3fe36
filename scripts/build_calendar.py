"""One-off converter: XSHG trading sessions from `exchange_calendars` to a committed CSV.

Run by a developer, never at run time (the package reads only the CSV):

    uv run --group data python scripts/build_calendar.py

Output: ``src/liangrong/sim/data/xshg_sessions.csv``, header ``session`` then one ISO date
per line, ascending, LF line ends. The covered years (2024-2026) are the loaded horizon;
`exchange_calendars` refuses dates past 2026, so later years are loaded from the exchanges'
yearly holiday notice instead (see ``liangrong.sim.calendar_data``).
"""

from __future__ import annotations

from pathlib import Path

import exchange_calendars as xcals

FIRST = "2024-01-01"
LAST = "2026-12-31"
DATA = Path(__file__).resolve().parents[1] / "src" / "liangrong" / "sim" / "data"
OUT = DATA / "xshg_sessions.csv"


def main() -> None:
    calendar = xcals.get_calendar("XSHG")
    sessions = calendar.sessions_in_range(FIRST, LAST)
    lines = ["session", *(day.strftime("%Y-%m-%d") for day in sessions)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {len(sessions)} sessions {lines[1]}..{lines[-1]} to {OUT}")


if __name__ == "__main__":
    main()
