"""XLSX source (openpyxl read-only mode, so memory stays flat for large workbooks).

Merged cells are refused: a merged range means a human-formatted report, not a table, and
its values would silently land in one cell only. A workbook with several sheets needs the
sheet named, so the wrong sheet is never loaded by accident.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..errors import (
    EMPTY_FILE,
    FILE_TOO_LARGE,
    XLSX_MERGED_CELLS,
    XLSX_SHEET_NOT_FOUND,
    XLSX_SHEET_REQUIRED,
    SourceError,
)
from .common import DEFAULT_MAX_BYTES, check_size, clean_header_name, rows_to_batch, select_columns, value_to_text

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*ref="([A-Z]+)(\d+)(?::[A-Z]+\d+)?"')


@dataclass
class XlsxSource:
    path: Path | str
    sheet: str | None = None
    expected_columns: Sequence[str] | None = None
    unknown_columns: str = "error"
    max_bytes: int | None = DEFAULT_MAX_BYTES
    batch_rows: int = 50_000

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = self.path.name
        self.columns: list[str] | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        import openpyxl

        path, file = Path(self.path), str(self.path)
        check_size(path, self.max_bytes)
        _check_unzipped_size(path, self.max_bytes)
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            ws = self._choose_sheet(wb, file)
            _refuse_merged_cells(path, ws._worksheet_path, file)
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None or all(v is None for v in header):
                raise SourceError(EMPTY_FILE, "the sheet has no header row", file=file, line=1)
            names = [clean_header_name(value_to_text(v) or "") for v in header]
            while names and names[-1] == "":
                names.pop()  # trailing formatted-but-empty header cells
            keep = select_columns(names, self.expected_columns, unknown=self.unknown_columns, file=file)
            self.columns = keep
            index = [names.index(c) for c in keep]
            buffer: list[list[object]] = []
            lines: list[int] = []
            for line, row in enumerate(rows, start=2):
                if row is None or all(v is None or v == "" for v in row):
                    continue
                buffer.append([row[i] if i < len(row) else None for i in index])
                lines.append(line)
                if len(buffer) >= self.batch_rows:
                    yield rows_to_batch(keep, buffer, lines)
                    buffer, lines = [], []
            if buffer:
                yield rows_to_batch(keep, buffer, lines)
        finally:
            wb.close()

    def _choose_sheet(self, wb, file: str):
        names = wb.sheetnames
        if self.sheet is None:
            if len(names) > 1:
                raise SourceError(
                    XLSX_SHEET_REQUIRED,
                    f"the workbook has {len(names)} sheets; choose one of: {', '.join(names)}",
                    file=file,
                    details={"sheets": names},
                )
            return wb[names[0]]
        if self.sheet not in names:
            raise SourceError(
                XLSX_SHEET_NOT_FOUND,
                f"no sheet named {self.sheet!r}; sheets: {', '.join(names)}",
                file=file,
                details={"sheets": names},
            )
        return wb[self.sheet]


def _check_unzipped_size(path: Path, max_bytes: int | None) -> None:
    """Guard against zip bombs: the limit applies to the uncompressed parts too."""
    if max_bytes is None:
        return
    with zipfile.ZipFile(path) as zf:
        total = sum(i.file_size for i in zf.infolist())
    if total > max_bytes * 20:
        raise SourceError(FILE_TOO_LARGE, f"the workbook unpacks to {total} bytes", file=str(path))


def _refuse_merged_cells(path: Path, part: str, file: str) -> None:
    """Stream the sheet XML looking for <mergeCell> (read-only openpyxl does not expose them)."""
    with zipfile.ZipFile(path) as zf, zf.open(part.lstrip("/")) as fh:
        tail = b""
        while block := fh.read(4 << 20):
            data = tail + block
            match = _MERGE.search(data)
            if match:
                col, row = match.group(1).decode(), int(match.group(2))
                raise SourceError(
                    XLSX_MERGED_CELLS,
                    f"the sheet has merged cells starting at {col}{row}; unmerge them first",
                    file=file,
                    line=row,
                    column=col,
                )
            tail = data[-200:]
