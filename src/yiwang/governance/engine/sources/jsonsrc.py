"""JSON (one array of objects) and NDJSON sources.

Numbers are kept as the text received (``parse_int=str``): an 18-digit ID sent as a JSON
number must not be rounded through a float. The array form is parsed incrementally, one
object at a time, so a large export does not have to fit in memory. ``_line`` is the line on
which each object starts.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import EMPTY_FILE, INVALID_JSON, TRUNCATED_FILE, UNKNOWN_COLUMNS, SourceError
from .common import DEFAULT_MAX_BYTES, check_size, rows_to_batch, select_columns

_DECODER = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str)
_WS = " \t\r\n"
READ_CHARS = 4 << 20
MAX_OBJECT_CHARS = 64 << 20


@dataclass
class JsonSource:
    path: Path | str
    lines: bool | None = None  # None: NDJSON when the suffix is .ndjson/.jsonl
    expected_columns: Sequence[str] | None = None
    unknown_columns: str = "error"
    max_bytes: int | None = DEFAULT_MAX_BYTES
    batch_rows: int = 50_000
    encoding: str = "utf-8-sig"

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = self.path.name
        self.columns: list[str] | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        check_size(Path(self.path), self.max_bytes)
        ndjson = self.lines if self.lines is not None else Path(self.path).suffix.lower() in (".ndjson", ".jsonl")
        records = self._ndjson() if ndjson else self._array()
        yield from self._batch(records)

    def _batch(self, records: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[pa.RecordBatch]:
        file = str(self.path)
        columns: list[str] | None = None
        allowed: set[str] = set()
        rows: list[list[Any]] = []
        lines: list[int] = []
        for line, obj in records:
            if columns is None:
                keys = list(obj)
                if self.expected_columns is not None:
                    keys += [c for c in self.expected_columns if c not in obj]  # absent keys are nulls
                columns = select_columns(
                    keys, self.expected_columns, unknown=self.unknown_columns, file=file, line=line
                )
                allowed = set(columns)
                self.columns = columns
            extra = [k for k in obj if k not in allowed]
            if extra and self.unknown_columns != "ignore":
                raise SourceError(
                    UNKNOWN_COLUMNS,
                    f"unknown keys: {', '.join(extra)}",
                    file=file,
                    line=line,
                    column=extra[0],
                    details={"columns": extra},
                )
            rows.append([obj.get(c) for c in columns])
            lines.append(line)
            if len(rows) >= self.batch_rows:
                yield rows_to_batch(columns, rows, lines)
                rows, lines = [], []
        if rows:
            assert columns is not None  # set by the first record
            yield rows_to_batch(columns, rows, lines)

    def _ndjson(self) -> Iterator[tuple[int, dict[str, Any]]]:
        file = str(self.path)
        with open(self.path, encoding=self.encoding) as fh:
            for number, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    obj = _DECODER.decode(text)
                except json.JSONDecodeError as exc:
                    code = TRUNCATED_FILE if not text.endswith("\n") else INVALID_JSON
                    raise SourceError(code, f"invalid JSON: {exc.msg}", file=file, line=number) from None
                if not isinstance(obj, dict):
                    raise SourceError(INVALID_JSON, "each line must hold one JSON object", file=file, line=number)
                yield number, obj

    def _array(self) -> Iterator[tuple[int, dict[str, Any]]]:
        file = str(self.path)
        decoder = codecs.getincrementaldecoder(self.encoding)()
        with open(self.path, "rb") as fh:
            buf, pos, line, eof = "", 0, 1, False

            def fill() -> bool:
                nonlocal buf, pos, eof
                raw = fh.read(READ_CHARS)
                eof = not raw
                buf = buf[pos:] + decoder.decode(raw, final=eof)
                pos = 0
                return not eof

            def skip_ws() -> None:
                nonlocal pos, line
                while True:
                    start = pos
                    while pos < len(buf) and buf[pos] in _WS:
                        pos += 1
                    line += buf.count("\n", start, pos)
                    if pos < len(buf) or not fill():
                        return

            fill()
            skip_ws()
            if pos >= len(buf):
                raise SourceError(EMPTY_FILE, "the file is empty", file=file, line=1)
            if buf[pos] != "[":
                raise SourceError(INVALID_JSON, "expected a JSON array of objects", file=file, line=line)
            pos += 1
            first = True
            while True:
                skip_ws()
                if pos >= len(buf):
                    raise SourceError(TRUNCATED_FILE, "the file ends before the closing ]", file=file, line=line)
                if buf[pos] == "]":
                    return
                if not first:
                    if buf[pos] != ",":
                        raise SourceError(INVALID_JSON, "expected , or ] between objects", file=file, line=line)
                    pos += 1
                    skip_ws()
                first = False
                while True:
                    try:
                        obj, end = _DECODER.raw_decode(buf, pos)
                        break
                    except json.JSONDecodeError as exc:
                        if eof or len(buf) - pos > MAX_OBJECT_CHARS:
                            code = TRUNCATED_FILE if eof and not buf.rstrip().endswith("]") else INVALID_JSON
                            bad_line = line + buf.count("\n", pos, exc.pos)
                            raise SourceError(code, f"invalid JSON: {exc.msg}", file=file, line=bad_line) from None
                        fill()
                if not isinstance(obj, dict):
                    raise SourceError(INVALID_JSON, "array items must be JSON objects", file=file, line=line)
                yield line, obj
                line += buf.count("\n", pos, end)
                pos = end
