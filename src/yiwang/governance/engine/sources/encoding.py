"""Turn a text file in UTF-8, UTF-8 with BOM, UTF-16, GBK or GB18030 into a stream of UTF-8 chunks.

Why two decoders: Arrow and Polars only read UTF-8. Python's GB18030 codec (~200 MB/s for
decode + re-encode) holds the GIL, so on a 2-core machine it competes with parsing and
validation. The C library's ``iconv(3)`` (see ``libiconv``) converts at ~490 MB/s per thread
with the GIL released, on two threads ahead of the parser; it is the default where the C
library has it. The Python codec is the portable fallback. Both name the line where decoding fails.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ENCODING_ERROR, ENCODING_MISMATCH, SourceError
from . import libiconv

CHUNK_BYTES = 16 << 20
SNIFF_BYTES = 1 << 20

_CANONICAL = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf8-sig": "utf-8-sig",
    "utf8bom": "utf-8-sig",
    "gbk": "gbk",
    "cp936": "gbk",
    "gb2312": "gbk",
    "gb18030": "gb18030",
    "utf-16": "utf-16",
    "utf16": "utf-16",
}
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def canonical_encoding(name: str) -> str:
    """Map the many spellings staff use (GBK, cp936, UTF8, ...) to one name."""
    key = name.strip().lower().replace("_", "-")
    if key not in _CANONICAL:
        raise SourceError(ENCODING_ERROR, f"unsupported encoding {name!r}")
    return _CANONICAL[key]


def detect_encoding(path: Path) -> str:
    """Guess the encoding from the BOM and the first non-ASCII bytes.

    Valid UTF-8 with multi-byte characters is almost never valid-looking GB18030 by accident,
    while the reverse is common, so UTF-8 is tried first. A pure-ASCII head is scanned further
    (at C speed) for the first non-ASCII byte, so a late GB18030 name is not misread as UTF-8.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        while True:
            block = fh.read(CHUNK_BYTES)
            if not block:
                return "utf-8"
            found = _NON_ASCII.search(block)
            if found:
                window = block[found.start() : found.start() + 64 * 1024]
                window += fh.read(8) if len(window) < 64 * 1024 else b""
                return "utf-8" if _is_utf8_prefix(window) else "gb18030"


def _is_utf8_prefix(data: bytes) -> bool:
    """True when ``data`` is valid UTF-8, allowing a character cut at the end."""
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 3 and exc.reason.startswith("unexpected end")


def check_declared_encoding(path: Path, encoding: str) -> None:
    """Refuse a GBK/GB18030 declaration for a file that is plainly UTF-8.

    GB18030 accepts almost any byte pair, so UTF-8 text decodes "successfully" into mojibake;
    only a positive UTF-8 check catches that mistake.
    """
    if encoding not in ("gbk", "gb18030"):
        return
    with open(path, "rb") as fh:
        sample = fh.read(SNIFF_BYTES)
    found = _NON_ASCII.search(sample)
    if found and _is_utf8_prefix(sample[found.start() :]) and not sample.startswith(codecs.BOM_UTF8):
        line = sample.count(b"\n", 0, found.start()) + 1
        raise SourceError(
            ENCODING_MISMATCH,
            f"declared {encoding} but the file is UTF-8 (first non-ASCII text on line {line})",
            file=str(path),
            line=line,
        )
    if sample.startswith(codecs.BOM_UTF8):
        raise SourceError(
            ENCODING_MISMATCH, f"declared {encoding} but the file starts with a UTF-8 BOM", file=str(path), line=1
        )


def utf8_chunks(path: Path, encoding: str, *, decoder: str = "auto", chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield UTF-8 bytes of the whole file (BOM removed), in chunks of about ``chunk_bytes``.

    ``decoder``: ``"auto"`` (C iconv when the platform has it), ``"iconv"`` or ``"python"``.
    """
    if encoding in ("utf-8", "utf-8-sig"):
        yield from _plain_chunks(path, chunk_bytes)
        return
    if encoding in ("gbk", "gb18030") and decoder != "python" and libiconv.available():
        yield from _iconv_chunks(path, encoding, chunk_bytes)
        return
    yield from _python_chunks(path, encoding, chunk_bytes)


def _plain_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as fh:
        first = True
        while chunk := fh.read(chunk_bytes):
            if first and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
            first = False
            yield chunk


def _raw_line_chunks(path: Path, chunk_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Raw chunks cut after a newline, with the byte offset of each chunk.

    Cutting raw GBK/GB18030 bytes at 0x0A is safe: no multi-byte sequence contains that byte.
    """
    offset = 0
    carry = b""
    with open(path, "rb", buffering=0) as fh:
        while True:
            block = fh.read(chunk_bytes)
            if not block:
                break
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            chunk, carry = data[:cut], data[cut:]
            yield offset, chunk
            offset += len(chunk)
    if carry:
        yield offset, carry


def _iconv_chunks(path: Path, encoding: str, chunk_bytes: int) -> Iterator[bytes]:
    """Decode chunks on two worker threads (the C call releases the GIL), yielding in order."""

    def convert(item: tuple[int, bytes]) -> bytes:
        offset, raw = item
        try:
            return libiconv.to_utf8(raw)
        except libiconv.IconvFailure as exc:
            where = offset + exc.offset
            raise SourceError(
                ENCODING_ERROR,
                f"{exc.reason}: the text is not valid {encoding}",
                file=str(path),
                line=line_of_offset(path, where),
                details={"encoding": encoding, "offset": where},
            ) from None

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode") as pool:
        pending: deque = deque()
        first = True
        try:
            for item in _raw_line_chunks(path, chunk_bytes):
                pending.append(pool.submit(convert, item))
                if len(pending) >= 3:
                    chunk = pending.popleft().result()
                    yield _strip_bom(chunk) if first else chunk
                    first = False
            while pending:
                chunk = pending.popleft().result()
                yield _strip_bom(chunk) if first else chunk
                first = False
        finally:
            for future in pending:
                future.cancel()


def line_of_offset(path: Path, offset: int) -> int:
    """1-based line holding byte ``offset``; only used for errors, so a re-read is fine."""
    newlines = 0
    with open(path, "rb") as fh:
        remaining = offset
        while remaining > 0:
            block = fh.read(min(CHUNK_BYTES, remaining))
            if not block:
                break
            newlines += block.count(b"\n")
            remaining -= len(block)
    return newlines + 1


def _strip_bom(chunk: bytes) -> bytes:
    return chunk[3:] if chunk.startswith(codecs.BOM_UTF8) else chunk


def _python_chunks(path: Path, encoding: str, chunk_bytes: int) -> Iterator[bytes]:
    codec = "gb18030" if encoding == "gbk" else encoding
    decoder = codecs.getincrementaldecoder(codec)()
    lines_before = 0
    consumed = 0
    with open(path, "rb") as fh:
        while True:
            raw = fh.read(chunk_bytes)
            final = not raw
            try:
                text = decoder.decode(raw, final=final)
            except UnicodeDecodeError as exc:
                start = max(0, min(exc.start, len(raw)))
                line = lines_before + raw.count(b"\n", 0, start) + 1
                raise SourceError(
                    ENCODING_ERROR,
                    f"bytes at offset {consumed + start} are not valid {encoding}",
                    file=str(path),
                    line=line,
                    details={"offset": consumed + start, "encoding": encoding},
                ) from None
            lines_before += raw.count(b"\n")
            consumed += len(raw)
            if text:
                if consumed == len(raw) and text.startswith("\ufeff"):
                    text = text[1:]
                yield text.encode("utf-8")
            if final:
                return
