"""Writing and reading the analysis tables (CSV, Parquet) and each output's manifest, atomically.

Every file is written to a temporary name in the same folder and renamed into place
(``os.replace``), so an interrupted run never leaves a half-written table under the real name. The
manifest (``<name>.analysis.json``) is written first with ``"complete": false`` and rewritten with
``"complete": true`` after the last output is in place; a re-run trusts only a complete manifest
whose input (size, mtime) and options are unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ferdesk.analysis.records import BASE_COLUMNS, AnalysisRecord, columns

MANIFEST_FORMAT = "ferdesk-analysis"
MANIFEST_VERSION = 1
MANIFEST_SUFFIX = ".analysis.json"
FORMATS = ("csv", "parquet")


class OutputError(OSError):
    """An output could not be written or read; the message names the file."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The process's umask, read once at import (reading it means setting it, which is not thread-safe).
_UMASK = _umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the permissions an ordinary ``open(path, "w")`` would give it (``mkstemp``'s
    temporary files are private, 0600, which would hide results from colleagues and web servers).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def csv_text(records: Sequence[AnalysisRecord], labels: Sequence[str]) -> str:
    """The CSV table as text (``\\n`` line ends, header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns(labels))
    for record in records:
        writer.writerow(record.csv_cells(labels))
    return buffer.getvalue()


def parquet_bytes(records: Sequence[AnalysisRecord], labels: Sequence[str]) -> bytes:
    """The same table as a Parquet file (needs pyarrow: ``pip install 'ferdesk[analysis]'``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data: dict[str, list] = {name: [] for name in columns(labels)}
    for record in records:
        row = record.as_row()
        for name in data:
            value = row.get(name)
            if isinstance(value, float) and math.isnan(value):
                value = None
            data[name].append(value)
    schema = pa.schema(
        [(name, pa.int64()) for name in ("frame",)]
        + [("time_s", pa.float64())]
        + [(name, pa.int64()) for name in ("track_id", "x", "y", "w", "h")]
        + [("emotion", pa.string()), ("confidence", pa.float64())]
        + [(label, pa.float64()) for label in labels]
    )
    table = pa.table(data, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def table_bytes(records: Sequence[AnalysisRecord], labels: Sequence[str], fmt: str) -> bytes:
    if fmt == "csv":
        return csv_text(records, labels).encode("utf-8")
    if fmt == "parquet":
        return parquet_bytes(records, labels)
    raise ValueError(f"format == {fmt!r}, must be one of {FORMATS}.")


def read_table(path: Path) -> tuple[tuple[str, ...], list[AnalysisRecord]]:
    """(labels, records) of a table this module wrote (CSV or Parquet, by suffix)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        header: list[str] = list(table.column_names)
        rows = table.to_pylist()
        cells: list[list[str]] = [
            [
                ""
                if row[name] is None
                else (f"{row[name]!r}" if isinstance(row[name], float) else str(row[name]))
                for name in header
            ]
            for row in rows
        ]
    else:
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.reader(stream)
            first_line = next(reader, None)
            if first_line is None:
                raise OutputError(f"{path}: the table is empty (no header line).")
            header = first_line
            cells = list(reader)
    if tuple(header[: len(BASE_COLUMNS)]) != BASE_COLUMNS:
        raise OutputError(f"{path}: not a ferdesk analysis table (its columns start {header[:3]}).")
    return tuple(header[len(BASE_COLUMNS) :]), [AnalysisRecord.from_cells(header, row) for row in cells]


def manifest_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f"{name}{MANIFEST_SUFFIX}"


def read_manifest(path: Path) -> dict | None:
    """The manifest at ``path``; None when absent or not one of ours (unreadable counts as absent)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return None
    return data


def write_manifest(path: Path, data: dict) -> None:
    body = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, **data}
    atomic_write_bytes(Path(path), (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8"))
