"""CSV / TSV source: streams string-typed Arrow batches with exact source line numbers.

The file is decoded to UTF-8 in chunks (see ``encoding``), each chunk is cut at the last row
boundary outside quotes, and Arrow's multi-threaded parser reads the chunk. Cutting ourselves
(instead of handing Arrow one long stream) is what lets every row carry its physical line even
with quoted newlines or blank lines, and lets errors name the line.
"""

from __future__ import annotations

import csv as pycsv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import EMPTY_FILE, ENCODING_ERROR, PARSE_ERROR, RAGGED_ROW, TRUNCATED_FILE, SourceError
from .common import DEFAULT_MAX_BYTES, check_size, clean_header_name, select_columns, with_lines
from .encoding import CHUNK_BYTES, canonical_encoding, check_declared_encoding, detect_encoding, utf8_chunks

NL, CR, QUOTE = 10, 13, 34
_KERNEL_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")


@dataclass
class CsvSource:
    """A delimited text file. ``encoding=None`` detects it; ``delimiter=None`` guesses it.

    ``decoder``: ``"auto"`` (the compiled decode-and-split kernel for UTF-8/GBK/GB18030, C iconv
    + Arrow's CSV reader for the other encodings), ``"kernel"``, ``"iconv"`` or ``"python"`` (the
    last two force the iconv / Python decoder with Arrow's reader).
    """

    path: Path | str
    encoding: str | None = None
    delimiter: str | None = None
    expected_columns: Sequence[str] | None = None
    unknown_columns: str = "error"
    max_bytes: int | None = DEFAULT_MAX_BYTES
    chunk_bytes: int = CHUNK_BYTES
    decoder: str = "auto"

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = self.path.name
        self.columns: list[str] | None = None
        self.detected_encoding: str | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        path = Path(self.path)
        check_size(path, self.max_bytes)
        if self.encoding:
            encoding = canonical_encoding(self.encoding)
            check_declared_encoding(path, encoding)
        else:
            encoding = detect_encoding(path)
        self.detected_encoding = encoding
        if self.decoder in ("auto", "kernel") and encoding in _KERNEL_ENCODINGS:
            from .fastcsv import FastCsvReader

            yield from FastCsvReader(self, str(path), encoding).read_file(path)
            return
        chunks = utf8_chunks(path, encoding, decoder=self.decoder, chunk_bytes=self.chunk_bytes)
        yield from _CsvReader(self, str(path), encoding).read(chunks)


class _CsvReader:
    def __init__(self, spec: CsvSource, file: str, encoding: str) -> None:
        self.spec, self.file, self.encoding = spec, file, encoding
        self.next_line = 1
        self.names: list[str] = []
        self.keep: list[str] = []
        self.delimiter = spec.delimiter

    def read(self, chunks: Iterator[bytes]) -> Iterator[pa.RecordBatch]:
        carry = b""
        header_done = False
        pending = b""  # parsed one chunk late, so the file's last rows are known to be last
        for chunk in chunks:
            buf = carry + chunk if carry else chunk
            if not header_done:
                buf, header_done = self._take_header(buf, final=False)
                if not header_done:
                    carry = buf
                    continue
            cut = _last_boundary(buf)
            part, carry = buf[:cut], buf[cut:]
            if len(carry) > 4 * self.spec.chunk_bytes + (1 << 20):
                raise SourceError(
                    PARSE_ERROR,
                    "a quoted value never ends (unbalanced quote)",
                    file=self.file,
                    line=self.next_line + pending.count(b"\n"),
                )
            if part:
                if pending:
                    yield self._parse(pending, final=False)
                pending = part
        if not header_done:
            carry, header_done = self._take_header(carry, final=True)
        tail = carry if carry.strip(b"\r\n") else b""
        if tail and _quote_parity(tail):
            raise SourceError(
                TRUNCATED_FILE,
                "the file ends inside a quoted value (unterminated quote)",
                file=self.file,
                line=self.next_line + pending.count(b"\n"),
            )
        if pending:
            yield self._parse(pending, final=not tail)
        if tail:
            yield self._parse(tail, final=True)

    def _take_header(self, buf: bytes, *, final: bool) -> tuple[bytes, bool]:
        cut = _first_boundary(buf)
        if cut < 0:
            if not final:
                return buf, False
            if not buf.strip():
                raise SourceError(EMPTY_FILE, "the file is empty (no header row)", file=self.file, line=1)
            cut = len(buf)
        raw = buf[:cut]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(
                ENCODING_ERROR, f"the header is not valid {self.encoding}", file=self.file, line=1
            ) from None
        if not text.strip():
            raise SourceError(EMPTY_FILE, "the first line (header) is empty", file=self.file, line=1)
        if self.delimiter is None:
            self.delimiter = _guess_delimiter(text, self.file)
        names = next(pycsv.reader(io.StringIO(text), delimiter=self.delimiter))
        self.names = [clean_header_name(n) for n in names]
        self.keep = select_columns(
            self.names, self.spec.expected_columns, unknown=self.spec.unknown_columns, file=self.file
        )
        self.spec.columns = self.keep
        self.next_line = 1 + raw.count(b"\n")
        return buf[cut:], True

    def _parse(self, part: bytes, *, final: bool) -> pa.RecordBatch:
        has_quotes = part.find(b'"') >= 0
        try:
            table = pacsv.read_csv(
                pa.BufferReader(part),
                # One block, one thread: on 2 cores the pipeline's other stages keep the second core
                # busy, and Arrow's block splitting measured 30-60 % more CPU per row for no gain.
                read_options=pacsv.ReadOptions(column_names=self.names, use_threads=False, block_size=len(part) + 1),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter, newlines_in_values=has_quotes, ignore_empty_lines=True
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in self.keep},
                    include_columns=self.keep,
                    strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise self._locate_error(part, final, exc) from None
        newlines = part.count(b"\n")
        rows_if_plain = newlines + (0 if part.endswith(b"\n") else 1)
        if not has_quotes and table.num_rows == rows_if_plain:
            lines = np.arange(self.next_line, self.next_line + rows_if_plain, dtype=np.int64)
        else:
            lines = self._line_numbers(part)
        if table.num_rows != len(lines):
            raise SourceError(
                PARSE_ERROR,
                f"parsed {table.num_rows} rows but counted {len(lines)}",
                file=self.file,
                line=int(lines[0]) if len(lines) else self.next_line,
            )
        self.next_line += newlines
        return with_lines(table, lines)

    def _line_numbers(self, part: bytes) -> np.ndarray:
        """Physical line of each non-blank row (slow path: quoted newlines or blank lines)."""
        starts, ends, nl = _rows(part)
        length = ends - starts
        a = np.frombuffer(part, np.uint8)
        nonblank = (length > 1) | ((length == 1) & (a[np.minimum(starts, len(a) - 1)] != CR))
        return (self.next_line + np.searchsorted(nl, starts[nonblank])).astype(np.int64)

    def _locate_error(self, part: bytes, final: bool, exc: Exception) -> SourceError:
        try:
            part.decode("utf-8")
        except UnicodeDecodeError as err:
            line = self.next_line + part.count(b"\n", 0, err.start)
            return SourceError(ENCODING_ERROR, f"text is not valid {self.encoding}", file=self.file, line=line)
        starts, ends, nl = _rows(part)
        counts = _field_counts(part, starts, ends, ord(self.delimiter or ","))
        expected = len(self.names)
        a = np.frombuffer(part, np.uint8)
        length = ends - starts
        nonblank = (length > 1) | ((length == 1) & (a[np.minimum(starts, len(a) - 1)] != CR))
        bad = np.flatnonzero(nonblank & (counts != expected))
        if bad.size == 0:
            return SourceError(PARSE_ERROR, f"CSV parse error: {exc}", file=self.file, line=self.next_line)
        row = int(bad[0])
        line = self.next_line + int(np.searchsorted(nl, starts[row]))
        is_last = final and not nonblank[row + 1 :].any()
        code = TRUNCATED_FILE if is_last and counts[row] < expected else RAGGED_ROW
        what = "the last row is cut short" if code == TRUNCATED_FILE else "row has the wrong number of fields"
        return SourceError(
            code,
            f"{what}: expected {expected} fields, found {int(counts[row])}",
            file=self.file,
            line=line,
            details={"expected": expected, "found": int(counts[row])},
        )


def _quote_parity(buf: bytes) -> int:
    return buf.count(b'"') & 1


def _row_ends(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Newlines that end a row (outside quotes), and all newlines."""
    a = np.frombuffer(buf, np.uint8)
    nl = np.flatnonzero(a == NL)
    quotes = np.flatnonzero(a == QUOTE)
    if quotes.size == 0:
        return nl, nl
    return nl[(np.searchsorted(quotes, nl) & 1) == 0], nl


def _rows(buf: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end offsets (end excludes the newline) of each row, and all newline offsets."""
    ends, nl = _row_ends(buf)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(buf)]))
    if starts[-1] >= len(buf):
        starts, ends = starts[:-1], ends[:-1]
    cr = np.frombuffer(buf, np.uint8)[np.maximum(ends - 1, 0)] == CR
    ends = ends - (cr & (ends > starts))
    return starts, ends, nl


def _field_counts(buf: bytes, starts: np.ndarray, ends: np.ndarray, delim: int) -> np.ndarray:
    a = np.frombuffer(buf, np.uint8)
    quotes = np.flatnonzero(a == QUOTE)
    delims = np.flatnonzero(a == delim)
    if quotes.size:
        delims = delims[(np.searchsorted(quotes, delims) & 1) == 0]
    return np.searchsorted(delims, ends) - np.searchsorted(delims, starts) + 1


def _last_boundary(buf: bytes) -> int:
    if buf.find(b'"') < 0:
        return buf.rfind(b"\n") + 1
    ends, _ = _row_ends(buf)
    return int(ends[-1]) + 1 if ends.size else 0


def _first_boundary(buf: bytes) -> int:
    if buf.find(b'"') < 0:
        pos = buf.find(b"\n")
        return pos + 1 if pos >= 0 else -1
    ends, _ = _row_ends(buf)
    return int(ends[0]) + 1 if ends.size else -1


def _guess_delimiter(header: str, file: str) -> str:
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","
