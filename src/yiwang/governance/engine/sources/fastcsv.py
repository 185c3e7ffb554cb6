"""The compiled CSV path: raw chunks go through one decode-and-split kernel (``kernels.csvscan``).

Same contract as ``_CsvReader`` (string columns in declared order, ``_line`` physical line
numbers, the same batches boundaries give or take, the same errors): the file is cut into
chunks of whole rows in its own encoding (a newline or quote byte never occurs inside a
GB18030 or UTF-8 multi-byte character), and any chunk the kernel declines is decoded and
parsed by the reference path, which either reads it or raises the error it always raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import ENCODING_ERROR, PARSE_ERROR, TRUNCATED_FILE, SourceError
from ..kernels import csvscan
from ..kernels.gb18030 import tables
from . import libiconv
from .common import LINE
from .csv import _CsvReader, _first_boundary, _last_boundary, _quote_parity
from .encoding import _strip_bom, line_of_offset

KERNEL_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
BATCH_BYTES = 8 << 20
_MIN_CAP = 1 << 12


class FastCsvReader(_CsvReader):
    """Reads ``file`` (raw bytes in ``encoding``) with the kernel; declined chunks use the parent."""

    def __init__(self, spec, file: str, encoding: str) -> None:
        super().__init__(spec, file, encoding)
        self.mode = csvscan.MODE_GB18030 if encoding in ("gbk", "gb18030") else csvscan.MODE_UTF8
        self.tables = tables() if self.mode == csvscan.MODE_GB18030 else None
        self.share: np.ndarray | None = None  # bytes of output per input byte, per column (last chunk)
        self.row_bytes = 64.0  # input bytes per row (last chunk)
        self.colmap: np.ndarray | None = None
        self.plain: np.ndarray | None = None
        self.declined = 0  # chunks handed to the reference path

    # -- decoding for the header and for declined chunks (exactly the reference converters) --
    def _to_utf8(self, raw: bytes, offset: int) -> bytes:
        if self.mode == csvscan.MODE_UTF8:
            return raw
        if libiconv.available() and self.spec.decoder != "python":
            try:
                return libiconv.to_utf8(raw)
            except libiconv.IconvFailure as exc:
                where = offset + exc.offset
                raise SourceError(
                    ENCODING_ERROR,
                    f"{exc.reason}: the text is not valid {self.encoding}",
                    file=self.file,
                    line=line_of_offset(Path(self.file), where),
                    details={"encoding": self.encoding, "offset": where},
                ) from None
        try:
            return raw.decode("gb18030").encode("utf-8")
        except UnicodeDecodeError as exc:
            where = offset + exc.start
            raise SourceError(
                ENCODING_ERROR,
                f"bytes at offset {where} are not valid {self.encoding}",
                file=self.file,
                line=line_of_offset(Path(self.file), where),
                details={"offset": where, "encoding": self.encoding},
            ) from None

    def read_file(self, path: Path) -> Iterator[pa.RecordBatch]:
        # 8 MB of input per batch (~55 k population rows): as fast per row as 16 or 32 MB, and the
        # sinks' queues (the lake keeps four batches per table) hold half as much
        chunk = min(self.spec.chunk_bytes, BATCH_BYTES)
        size = os.path.getsize(path)
        buf = np.empty(chunk + (1 << 16), np.uint8)
        fill = 0  # bytes held in buf: the carried partial row, then fresh bytes
        base = 0  # file offset of buf[0]
        eof = False
        header_done = False
        with open(path, "rb", buffering=0) as fh:
            while True:
                if not eof:
                    if fill + chunk + 1 > len(buf):
                        grown = np.empty(fill + chunk + (1 << 16), np.uint8)
                        grown[:fill] = buf[:fill]
                        buf = grown
                    got = fh.readinto(buf.data[fill : fill + chunk]) or 0
                    fill += got
                    if got and base + fill >= size:  # probably the end: confirm, so the last part knows
                        extra = fh.read(1)
                        if extra:
                            buf[fill] = extra[0]
                            fill += 1
                        else:
                            eof = True
                    elif not got:
                        eof = True
                if not header_done:
                    done, start = self._header(buf, fill, eof)
                    if not done:
                        continue
                    header_done = True
                    buf[: fill - start] = buf[start:fill].copy()
                    base, fill = base + start, fill - start
                if eof:
                    yield from self._last(buf, fill, base)
                    return
                batch, used = self._complete_rows(buf, fill, base)
                if batch is not None:
                    yield batch
                if used:
                    buf[: fill - used] = buf[used:fill].copy()
                    base, fill = base + used, fill - used
                if fill > 4 * self.spec.chunk_bytes + (1 << 20):
                    raise SourceError(
                        PARSE_ERROR, "a quoted value never ends (unbalanced quote)", file=self.file, line=self.next_line
                    )

    def _complete_rows(self, buf: np.ndarray, fill: int, base: int) -> tuple[pa.RecordBatch | None, int]:
        """The complete rows at the start of ``buf[:fill]`` as a batch, and the bytes they took."""
        window = max(0, fill - (1 << 20))
        nl = np.flatnonzero(buf[window:fill] == csvscan.NL)
        end = window + int(nl[-1]) + 1 if nl.size else 0
        if end == 0 and window:
            end = _last_newline(buf, fill)
        if end == 0:
            return None, 0
        result = self._kernel(buf, 0, end, partial=True)
        if result is not None:
            return result
        cut = _last_boundary(bytes(buf[:fill]))  # the reference path decides, on the reference cut
        if cut == 0:
            return None, 0
        self.declined += 1
        return self._parse(self._to_utf8(bytes(buf[:cut]), base), final=False), cut

    def _last(self, buf: np.ndarray, fill: int, base: int) -> Iterator[pa.RecordBatch]:
        """The rest of the file: complete rows, then a last row without a newline (as the reference)."""
        raw = bytes(buf[:fill])
        cut = _last_boundary(raw)
        tail = raw[cut:] if raw[cut:].strip(b"\r\n") else b""
        if tail and _quote_parity(tail):
            raise SourceError(
                TRUNCATED_FILE,
                "the file ends inside a quoted value (unterminated quote)",
                file=self.file,
                line=self.next_line + raw.count(b"\n", 0, cut),
            )
        if cut:
            yield self._whole(buf, 0, cut, base, final=not tail)
        if tail:
            yield self._whole(buf, cut, fill, base, final=True)

    def _whole(self, buf: np.ndarray, start: int, end: int, base: int, *, final: bool) -> pa.RecordBatch:
        """All rows of ``buf[start:end]`` (the last may lack its newline)."""
        result = self._kernel(buf, start, end, partial=False)
        if result is not None:
            return result[0]
        self.declined += 1
        return self._parse(self._to_utf8(bytes(buf[start:end]), base + start), final=final)

    def _header(self, buf: np.ndarray, fill: int, eof: bool) -> tuple[bool, int]:
        """Read the header row; returns (done, its length in raw bytes)."""
        raw = bytes(buf[: min(fill, 1 << 20)])
        cut = _first_boundary(raw)
        if cut < 0 and fill > len(raw):
            raw = bytes(buf[:fill])
            cut = _first_boundary(raw)
        if cut < 0 and not eof:
            return False, 0
        head = raw[:cut] if cut >= 0 else raw
        if self.mode == csvscan.MODE_UTF8:
            text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        else:
            text = _strip_bom(self._to_utf8(head, 0))
        self._take_header(text, final=True)
        return True, len(head)

    def _kernel(self, buf: np.ndarray, start: int, end: int, *, partial: bool) -> tuple[pa.RecordBatch, int] | None:
        """Run the kernel on ``buf[start:end]``; None when it declines (the caller falls back)."""
        names, keep = self.names, self.keep
        if self.colmap is None:
            slots = {name: k for k, name in enumerate(keep)}
            self.colmap = np.array([slots.get(name, -1) for name in names], np.int64)
        colmap = self.colmap
        delim = ord(self.delimiter or ",")
        if len(colmap) == 0 or delim >= 0x80 or delim in (csvscan.NL, csvscan.CR, csvscan.QUOTE):
            return None
        nout = len(keep)
        length = end - start
        scratch = 3 * length + 64 if (colmap < 0).any() else 0
        t = self.tables
        tables_ = (t.single, t.single_len, t.two, t.two_len, t.four, t.four_len, t.supplementary) if t else _NO_TABLES
        if self.share is None:  # learn each column's share of the bytes on a small prefix first
            probe = _prefix_end(buf, start, end, 256 * 1024)
            if probe < end:
                self._scan(
                    buf,
                    start,
                    probe,
                    True,
                    nout,
                    np.full(nout, 3 * (probe - start) + 64, np.int64),
                    3 * (probe - start) + 64,
                    length_rows=None,
                    tables_=tables_,
                )
        for attempt in range(3):
            if self.share is None or attempt == 2:
                caps = np.full(nout, 3 * length + 64, np.int64)
                rows_max = length // max(len(colmap), 1) + 2
            else:
                caps = (self.share * length * (1.25 + attempt)).astype(np.int64) + _MIN_CAP + length // 64
                rows_max = int(length / self.row_bytes * (1.5 + attempt)) + 1024
            out = self._scan(buf, start, end, partial, nout, caps, scratch, length_rows=rows_max, tables_=tables_)
            if out is None:
                return None
            if out == "overflow":
                continue
            return out
        return None

    def _scan(self, buf, start, end, partial, nout, caps, scratch, *, length_rows, tables_):
        length = end - start
        rows_max = length_rows if length_rows is not None else length // max(len(self.colmap), 1) + 2
        cap = np.empty(nout + 1, np.int64)
        cap[:nout] = caps
        cap[nout] = scratch
        region = np.zeros(nout + 1, np.int64)
        np.cumsum(cap[:-1], out=region[1:])
        data_buffer = pa.allocate_buffer(int(cap.sum()) + 8)
        data = np.frombuffer(data_buffer, np.uint8)
        offsets_buffer = pa.allocate_buffer((rows_max + 1) * 4 * nout + 8)
        offsets = np.frombuffer(offsets_buffer, np.int32, nout * (rows_max + 1)).reshape(nout, rows_max + 1)
        lines_buffer = pa.allocate_buffer(rows_max * 8 + 8)
        lines = np.frombuffer(lines_buffer, np.int64, rows_max)
        delim = ord(self.delimiter or ",")
        if self.plain is None:
            self.plain = csvscan.plain_bytes(delim)
        status, rows, stop, line = csvscan.scan(
            buf,
            start,
            end,
            partial,
            self.mode,
            delim,
            self.colmap,
            nout,
            region,
            cap,
            offsets,
            data,
            lines,
            self.next_line,
            self.plain,
            *tables_,
        )
        if status == csvscan.OVERFLOW:
            return "overflow"
        if status != csvscan.OK:
            return None
        used = offsets[:, rows].astype(np.int64) if rows else np.zeros(nout, np.int64)
        consumed = stop - start
        if rows:
            self.share = used / max(consumed, 1)
            self.row_bytes = max(consumed / rows, 1.0)
        if length_rows is None:  # a probe: only the shares were wanted
            return None
        arrays = []
        for k in range(nout):
            arrays.append(
                pa.Array.from_buffers(
                    pa.string(),
                    rows,
                    [
                        None,
                        offsets_buffer.slice(k * (rows_max + 1) * 4, (rows + 1) * 4),
                        data_buffer.slice(int(region[k]), int(used[k])),
                    ],
                )
            )
        self.next_line = line
        batch = pa.RecordBatch.from_arrays(
            [*arrays, pa.Array.from_buffers(pa.int64(), rows, [None, lines_buffer.slice(0, rows * 8)])],
            names=[*self.keep, LINE],
        )
        return batch, consumed


def _prefix_end(buf: np.ndarray, start: int, end: int, size: int) -> int:
    """End of the last newline within ``size`` bytes of ``start`` (or ``end``)."""
    if end - start <= size:
        return end
    nl = np.flatnonzero(buf[start : start + size] == csvscan.NL)
    return start + int(nl[-1]) + 1 if nl.size else end


def _last_newline(buf: np.ndarray, fill: int) -> int:
    nl = np.flatnonzero(buf[:fill] == csvscan.NL)
    return int(nl[-1]) + 1 if nl.size else 0


_NO_TABLES = (
    np.zeros(4, np.uint8),
    np.zeros(1, np.uint8),
    np.zeros(4, np.uint8),
    np.zeros(1, np.uint8),
    np.zeros(4, np.uint8),
    np.zeros(1, np.uint8),
    False,
)
