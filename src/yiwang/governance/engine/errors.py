"""Structured errors for source files the engine cannot read.

Each error carries a stable ``code`` (the UI translates codes, never messages), the file, and
where known the 1-based line and the column name, so staff can find and fix the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Stable error codes; the UI maps each one to a Chinese message.
FILE_TOO_LARGE = "file_too_large"
EMPTY_FILE = "empty_file"
TRUNCATED_FILE = "truncated_file"
RAGGED_ROW = "ragged_row"
PARSE_ERROR = "parse_error"
ENCODING_ERROR = "encoding_error"
ENCODING_MISMATCH = "encoding_mismatch"
MISSING_COLUMNS = "missing_columns"
UNKNOWN_COLUMNS = "unknown_columns"
DUPLICATE_COLUMNS = "duplicate_columns"
XLSX_MERGED_CELLS = "xlsx_merged_cells"
XLSX_SHEET_REQUIRED = "xlsx_sheet_required"
XLSX_SHEET_NOT_FOUND = "xlsx_sheet_not_found"
INVALID_JSON = "invalid_json"
UNSUPPORTED_FORMAT = "unsupported_format"
DATABASE_ERROR = "database_error"

ALL_CODES = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))


@dataclass
class SourceError(Exception):
    """A source that cannot be loaded as a whole (as opposed to bad rows, which are quarantined)."""

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: str | None = None
    details: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        col = f" [{self.column}]" if self.column else ""
        return f"{self.code}: {where}{col}: {self.message}" if where else f"{self.code}{col}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form for APIs and load logs."""
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "details": self.details or {},
        }
