"""Pieces shared by every source: header checks, size limits and batch assembly."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from ..errors import DUPLICATE_COLUMNS, FILE_TOO_LARGE, MISSING_COLUMNS, UNKNOWN_COLUMNS, SourceError

LINE = "_line"
DEFAULT_MAX_BYTES = 20 << 30  # 20 GiB; callers set their own upload limit


@runtime_checkable
class Source(Protocol):
    """Anything that yields string-typed Arrow batches with an int64 ``_line`` column."""

    name: str

    def batches(self) -> Iterable[pa.RecordBatch]: ...


def check_size(path: Path, max_bytes: int | None) -> None:
    size = os.path.getsize(path)
    if max_bytes is not None and size > max_bytes:
        raise SourceError(
            FILE_TOO_LARGE,
            f"file is {size} bytes, over the limit of {max_bytes} bytes",
            file=str(path),
            details={"size": size, "limit": max_bytes},
        )


def clean_header_name(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def select_columns(
    names: Sequence[str],
    expected: Sequence[str] | None,
    *,
    unknown: str = "error",
    file: str | None = None,
    line: int | None = 1,
) -> list[str]:
    """Check a header against the expected columns; return the columns to keep, in output order.

    ``unknown`` is ``"error"`` (refuse extra columns), ``"ignore"`` (drop them) or ``"keep"``.
    """
    seen = Counter(names)
    dupes = sorted(n for n, count in seen.items() if count > 1)
    if dupes:
        raise SourceError(
            DUPLICATE_COLUMNS,
            f"duplicate column names: {', '.join(dupes)}",
            file=file,
            line=line,
            column=dupes[0],
            details={"columns": dupes},
        )
    if expected is None:
        return list(names)
    missing = [c for c in expected if c not in seen]
    if missing:
        raise SourceError(
            MISSING_COLUMNS,
            f"missing columns: {', '.join(missing)}",
            file=file,
            line=line,
            column=missing[0],
            details={"columns": missing, "found": list(names)},
        )
    extra = [n for n in names if n not in set(expected)]
    if extra and unknown == "error":
        raise SourceError(
            UNKNOWN_COLUMNS,
            f"unknown columns: {', '.join(extra)}",
            file=file,
            line=line,
            column=extra[0],
            details={"columns": extra},
        )
    return list(expected) + (extra if unknown == "keep" else [])


def with_lines(table: pa.Table | pa.RecordBatch, lines: np.ndarray) -> pa.RecordBatch:
    """One RecordBatch of the string columns plus ``_line``."""
    if isinstance(table, pa.Table):
        table = table.combine_chunks()
        arrays = [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in table.columns]
        names = table.column_names
    else:
        arrays, names = list(table.columns), table.schema.names
    return pa.RecordBatch.from_arrays([*arrays, pa.array(lines, pa.int64())], names=[*names, LINE])


def value_to_text(value: Any) -> str | None:
    """Render a typed value (from Excel, JSON or a database) the way a person would have typed it."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def rows_to_batch(columns: Sequence[str], rows: Sequence[Sequence[Any]], lines: list[int]) -> pa.RecordBatch:
    """Column-wise string conversion of row tuples coming from non-columnar sources."""
    arrays = []
    for i in range(len(columns)):
        arrays.append(pa.array([value_to_text(r[i]) if i < len(r) else None for r in rows], pa.string()))
    arrays.append(pa.array(lines, pa.int64()))
    return pa.RecordBatch.from_arrays(arrays, names=[*columns, LINE])
