"""GB18030 → UTF-8 lookup tables, built from the same decoder the reference path uses.

The tables are filled by decoding every two-byte code and every four-byte BMP code once with
the reference converter (the C library's ``iconv(3)`` where it has GB18030, else Python's
codec), so the compiled decoder maps exactly as the reference does; codes the reference
refuses are marked invalid, and the kernel hands any chunk holding one back to the reference
path, which reports the error as before. The supplementary planes (first byte 0x90-0xE3) are
linear; a sample is checked against the reference and the range is left to it on a mismatch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

TWO_BYTE_CODES = 126 * 190
FOUR_BYTE_BMP_CODES = 39420  # 0x81308130 .. 0x8431A439
_lock = threading.Lock()
_tables: GbTables | None = None


@dataclass(frozen=True)
class GbTables:
    single: np.ndarray  # (256 * 4,) uint8: UTF-8 of single bytes 0x80-0xFF that are characters alone
    single_len: np.ndarray  # (256,) uint8, 0 = not a character alone
    two: np.ndarray  # (126 * 256 * 4,) uint8 by (lead - 0x81) << 8 | trail, four bytes per code (UTF-8, zero-padded)
    two_len: np.ndarray  # (126 * 256,) uint8, 0 = invalid (or not a two-byte code)
    four: np.ndarray  # (39420 * 4,) uint8
    four_len: np.ndarray  # (39420,) uint8, 0 = invalid
    supplementary: bool  # four-byte codes 0x90308130.. map linearly to U+10000..


def _converter():
    from ..sources import libiconv

    if libiconv.available():
        return lambda data: libiconv.to_utf8(data), libiconv.IconvFailure
    return (lambda data: data.decode("gb18030").encode("utf-8")), UnicodeDecodeError


def _decode_each(codes: list[bytes]) -> list[bytes | None]:
    """UTF-8 of each code, or None where the reference decoder refuses it."""
    convert, failure = _converter()
    out: list[bytes | None] = [None] * len(codes)
    start = 0
    while start < len(codes):
        # newline-separated, so each code's output is one line; a refused code ends the run
        blob = b"\n".join(codes[start:]) + b"\n"
        try:
            text = convert(blob)
            bad = None
        except failure as exc:
            offset = getattr(exc, "offset", None)
            if offset is None:
                offset = exc.start  # UnicodeDecodeError
            bad = start + blob.count(b"\n", 0, offset)
            text = convert(b"\n".join(codes[start:bad]) + b"\n") if bad > start else b""
        pieces = text.split(b"\n")[:-1]
        for k, piece in enumerate(pieces):
            out[start + k] = piece or None
        if bad is None:
            break
        out[bad] = None
        start = bad + 1
    return out


def _fill(codes: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    table = np.zeros((len(codes), 4), np.uint8)
    lengths = np.zeros(len(codes), np.uint8)
    for k, utf8 in enumerate(_decode_each(codes)):
        if utf8 is not None and 0 < len(utf8) <= 4 and utf8 != b"\n":
            table[k, : len(utf8)] = np.frombuffer(utf8, np.uint8)
            lengths[k] = len(utf8)
    return table, lengths


def _four(lin: int, first: int) -> bytes:
    b1, rest = divmod(lin, 12600)
    b2, rest = divmod(rest, 1260)
    b3, b4 = divmod(rest, 10)
    return bytes([first + b1, 0x30 + b2, 0x81 + b3, 0x30 + b4])


def tables() -> GbTables:
    global _tables
    with _lock:
        if _tables is None:
            _tables = _build()
        return _tables


def _build() -> GbTables:
    single_codes = [bytes([b]) for b in range(0x80, 0x100)]
    s_table, s_len = _fill(single_codes)
    single = np.zeros((256, 4), np.uint8)
    single_len = np.zeros(256, np.uint8)
    single[0x80:], single_len[0x80:] = s_table, s_len
    trails = (*range(0x40, 0x7F), *range(0x80, 0xFF))
    two_codes = [bytes([lead, trail]) for lead in range(0x81, 0xFF) for trail in trails]
    packed, packed_len = _fill(two_codes)
    # indexed by (lead - 0x81) << 8 | trail, so the kernel needs no range arithmetic; a byte that
    # cannot trail has length 0
    two = np.zeros((126 * 256, 4), np.uint8)
    two_len = np.zeros(126 * 256, np.uint8)
    index = np.array([(lead - 0x81) << 8 | trail for lead in range(0x81, 0xFF) for trail in trails])
    two[index], two_len[index] = packed, packed_len
    four, four_len = _fill([_four(lin, 0x81) for lin in range(FOUR_BYTE_BMP_CODES)])
    rng = np.random.default_rng(18030)
    sample = sorted(set(rng.integers(0, 0x100000, 2000).tolist()) | {0, 0xFFFFF})
    decoded = _decode_each([_four(lin, 0x90) for lin in sample])
    supplementary = all(d == chr(0x10000 + lin).encode("utf-8") for lin, d in zip(sample, decoded))
    return GbTables(single.reshape(-1), single_len, two.reshape(-1), two_len, four.reshape(-1), four_len, supplementary)
