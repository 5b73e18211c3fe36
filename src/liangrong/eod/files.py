"""The end of day's own files: CSV text with a fixed layout, written atomically.

Invariants: the same rows give the same bytes (UTF-8, no byte-order mark, RFC 4180 quoting,
CRLF line ends, no time in the content); a file is written under a temporary name, flushed
to disk and renamed over its final name, so a reader (or a rerun after a crash) sees the old
file or the new one, never a part.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def joined_csv_bytes(header: Sequence[str], lines: list[str]) -> bytes | None:
    """``csv_bytes`` of rows given as their fields joined by commas, when no field needs
    quoting: none holds a comma, a quote or a line break (each line then has exactly the
    commas between its fields), checked over the whole text at once; None otherwise."""
    text = "\r\n".join(lines)
    plain = (
        len(header) > 1  # a row of one empty field is quoted
        and text.count(",") == (len(header) - 1) * len(lines)
        and text.count("\r") == text.count("\n") == max(len(lines) - 1, 0)
        and '"' not in text
    )
    if not plain:
        return None
    return csv_bytes(header, []) + (text + "\r\n" if lines else "").encode("utf-8")


def write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
    return path


def day_dir(reports_dir: Path, day: date) -> Path:
    """The folder of one trading day's files."""
    return reports_dir / f"{day:%Y%m%d}"
