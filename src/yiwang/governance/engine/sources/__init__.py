"""Sources: stream string-typed Arrow batches (plus ``_line``) from files and databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UNSUPPORTED_FORMAT, SourceError
from .common import DEFAULT_MAX_BYTES, LINE, Source
from .csv import CsvSource
from .jsonsrc import JsonSource
from .sql import SqlSource
from .xlsx import XlsxSource

__all__ = ["DEFAULT_MAX_BYTES", "LINE", "CsvSource", "JsonSource", "Source", "SqlSource", "XlsxSource", "open_source"]

_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def open_source(location: str | Path, *, format: str | None = None, **options: Any) -> Source:
    """Pick the source class from ``format`` or the file suffix; a URL with ``://`` is a database.

    Options are passed to the class (``encoding``, ``sheet``, ``table``, ``expected_columns``, ...).
    """
    text = str(location)
    if format is None:
        format = "sql" if "://" in text else _BY_SUFFIX.get(Path(text).suffix.lower())
    if format == "csv":
        if Path(text).suffix.lower() in (".tsv", ".tab") and "delimiter" not in options:
            options["delimiter"] = "\t"
        return CsvSource(text, **options)
    if format == "xlsx":
        return XlsxSource(text, **options)
    if format in ("json", "ndjson"):
        return JsonSource(text, lines=format == "ndjson", **options)
    if format == "sql":
        return SqlSource(text, **options)
    raise SourceError(UNSUPPORTED_FORMAT, f"cannot read {Path(text).name!r}: unknown format {format!r}", file=text)
