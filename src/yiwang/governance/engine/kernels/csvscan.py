"""One pass from raw file bytes to Arrow string columns: decode (GB18030 or UTF-8) and split.

The kernel walks a chunk of rows once: it decodes GB18030 through lookup tables (or checks
UTF-8), splits fields on the delimiter (RFC 4180 quotes included), writes each kept column's
UTF-8 bytes and offsets straight into Arrow buffers, and records each row's physical line.

It only accepts what it is sure about. Anything else — a byte sequence the tables do not map,
a bare CR, a quote inside an unquoted field, a row with the wrong number of fields, a column
outgrowing its buffer — makes it return a status instead, and the caller hands that chunk to
the reference path (iconv + Arrow's CSV reader), which either parses it or raises the precise
``SourceError`` it always did. So results and errors are the reference's, by construction.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

_U = np.uint64  # array indices cast to unsigned: no negative-index wraparound code per access

OK, FALLBACK, OVERFLOW = 0, 1, 2
MODE_UTF8, MODE_GB18030 = 0, 1
NL, CR, QUOTE = 10, 13, 34


@jit
def scan(
    buf,
    start,
    end,
    partial,
    mode,
    delim,
    colmap,
    nout,
    region,
    cap,
    offsets,
    data,
    lines,
    first_line,
    plain,
    single,
    single_len,
    two,
    two_len,
    four,
    four_len,
    supplementary,
):
    """Parse the rows in ``buf[_U(start:end)]``. Returns (status, rows, position, line).

    With ``partial`` the buffer may end inside a row: parsing stops before it, and ``position``
    and ``line`` are where that row starts (the caller keeps it for the next buffer). Without
    it, the last row may lack its newline but must be complete.

    ``plain[b]``: byte b is ordinary ASCII (not the delimiter, a quote, CR or LF).
    ``colmap[f]``: output slot of source field f, or -1 to drop it (dropped fields are decoded
    into the scratch region ``nout``). Column k's bytes go to ``data[region[k] : region[k] +
    cap[k]]``; ``offsets[k, r]`` are relative to ``region[k]``. Decoding tables are flat, four
    bytes per code (``two[_U(4 * code : 4 * code + 4)]``), and a character is copied as four bytes
    then the position advanced by its length, so there is no inner loop per character. The
    decoder is written inline: helper calls in this loop would cost a reference-count round
    trip per array argument per character.
    """
    ncols = colmap.shape[0]
    pos = np.empty(nout + 1, np.int64)
    for k in range(nout + 1):
        pos[k] = region[k]
    for k in range(nout):
        offsets[k, 0] = 0
    i = start
    row = 0
    line = first_line
    max_rows = lines.shape[0]
    while i < end:
        row_start = i
        row_line = line
        b = buf[_U(i)]
        if b == NL:  # blank line
            i += 1
            line += 1
            continue
        if b == CR:
            if i + 1 < end and buf[_U(i + 1)] == NL:
                i += 2
                line += 1
                continue
            if partial and i + 1 == end:
                return OK, row, i, line
            return FALLBACK, row, i, line
        if row >= max_rows:
            return OVERFLOW, row, i, line
        lines[row] = line
        f = 0
        while True:  # fields of this row
            if f >= ncols:
                return FALLBACK, row, i, line
            slot = colmap[f]
            if slot < 0:
                slot = nout
                pos[nout] = region[nout]
            p = pos[slot]
            lim = region[slot] + cap[slot] - 4
            quoted = i < end and buf[_U(i)] == QUOTE
            if quoted:
                i += 1
            stop = -1  # what ended the field: a delimiter, NL, or -1 for the end of the chunk
            while i < end:
                b = buf[_U(i)]
                if plain[_U(b)]:  # most bytes: ASCII, not a delimiter, quote, CR or LF
                    if p > lim:
                        return OVERFLOW, row, i, line
                    data[_U(p)] = b
                    p += 1
                    i += 1
                    continue
                if b < 0x80:
                    if quoted:
                        if b == QUOTE:
                            if i + 1 < end and buf[_U(i + 1)] == QUOTE:
                                i += 1  # "" is one quote, copied below
                            else:
                                i += 1
                                quoted = False
                                if i < end:  # after a closing quote: a delimiter or the end of the row
                                    b = buf[_U(i)]
                                    if b == CR and i + 1 == end and partial:
                                        return OK, row, row_start, row_line
                                    if b == CR and i + 1 < end and buf[_U(i + 1)] == NL:
                                        i += 1
                                        b = NL
                                    if b != delim and b != NL:
                                        return FALLBACK, row, i, line
                                    stop = b
                                    i += 1
                                break
                        elif b == NL:
                            line += 1
                    elif b == delim or b == NL:
                        stop = b
                        i += 1
                        break
                    elif b == CR:
                        if i + 1 < end and buf[_U(i + 1)] == NL:
                            stop = NL
                            i += 2
                            break
                        if partial and i + 1 == end:
                            return OK, row, row_start, row_line
                        return FALLBACK, row, i, line
                    elif b == QUOTE:
                        return FALLBACK, row, i, line
                    if p > lim:
                        return OVERFLOW, row, i, line
                    data[_U(p)] = b
                    p += 1
                    i += 1
                    continue
                # a non-ASCII character
                if p > lim:
                    return OVERFLOW, row, i, line
                if mode == 0:  # UTF-8: validate (Unicode Table 3-7) and copy
                    if 0xC2 <= b <= 0xDF:
                        n = 2
                        lo = 0x80
                        hi = 0xBF
                    elif 0xE0 <= b <= 0xEF:
                        n = 3
                        lo = 0xA0 if b == 0xE0 else 0x80
                        hi = 0x9F if b == 0xED else 0xBF
                    elif 0xF0 <= b <= 0xF4:
                        n = 4
                        lo = 0x90 if b == 0xF0 else 0x80
                        hi = 0x8F if b == 0xF4 else 0xBF
                    else:
                        return FALLBACK, row, i, line
                    if i + n > end:
                        return FALLBACK, row, i, line
                    c = buf[_U(i + 1)]
                    if c < lo or c > hi:
                        return FALLBACK, row, i, line
                    data[_U(p)] = b
                    data[_U(p + 1)] = c
                    if n > 2:
                        c = buf[_U(i + 2)]
                        if c < 0x80 or c > 0xBF:
                            return FALLBACK, row, i, line
                        data[_U(p + 2)] = c
                        if n > 3:
                            c = buf[_U(i + 3)]
                            if c < 0x80 or c > 0xBF:
                                return FALLBACK, row, i, line
                            data[_U(p + 3)] = c
                    p += n
                    i += n
                    continue
                # GB18030
                b2 = buf[_U(i + 1)] if i + 1 < end else 0
                m = two_len[_U(((b - 0x81) << 8) | b2)] if 0x81 <= b <= 0xFE else 0
                if m != 0:
                    q = (((b - 0x81) << 8) | b2) * 4
                    data[_U(p)] = two[_U(q)]
                    data[_U(p + 1)] = two[_U(q + 1)]
                    data[_U(p + 2)] = two[_U(q + 2)]
                    data[_U(p + 3)] = two[_U(q + 3)]
                    p += m
                    i += 2
                    continue
                if 0x81 <= b <= 0xFE and 0x30 <= b2 <= 0x39:
                    if i + 3 >= end:
                        return FALLBACK, row, i, line
                    b3 = buf[_U(i + 2)]
                    b4 = buf[_U(i + 3)]
                    if b3 < 0x81 or b3 > 0xFE or b4 < 0x30 or b4 > 0x39:
                        return FALLBACK, row, i, line
                    lin = (b2 - 0x30) * 1260 + (b3 - 0x81) * 10 + (b4 - 0x30)
                    if b <= 0x84:
                        lin += (b - 0x81) * 12600
                        if lin >= four_len.shape[0] or four_len[_U(lin)] == 0:
                            return FALLBACK, row, i, line
                        q = lin * 4
                        data[_U(p)] = four[_U(q)]
                        data[_U(p + 1)] = four[_U(q + 1)]
                        data[_U(p + 2)] = four[_U(q + 2)]
                        data[_U(p + 3)] = four[_U(q + 3)]
                        p += four_len[_U(lin)]
                        i += 4
                        continue
                    if b < 0x90 or not supplementary:
                        return FALLBACK, row, i, line
                    cp = 0x10000 + (b - 0x90) * 12600 + lin
                    if cp > 0x10FFFF:
                        return FALLBACK, row, i, line
                    data[_U(p)] = 0xF0 | (cp >> 18)
                    data[_U(p + 1)] = 0x80 | ((cp >> 12) & 0x3F)
                    data[_U(p + 2)] = 0x80 | ((cp >> 6) & 0x3F)
                    data[_U(p + 3)] = 0x80 | (cp & 0x3F)
                    p += 4
                    i += 4
                    continue
                m = single_len[_U(b)]
                if m == 0:
                    return FALLBACK, row, i, line
                q = b * 4
                data[_U(p)] = single[_U(q)]
                data[_U(p + 1)] = single[_U(q + 1)]
                data[_U(p + 2)] = single[_U(q + 2)]
                data[_U(p + 3)] = single[_U(q + 3)]
                p += m
                i += 1
            if stop == -1 and partial:  # the buffer ends inside this row: leave it for the next one
                return OK, row, row_start, row_line
            if quoted:  # the chunk ended inside quotes
                return FALLBACK, row, i, line
            if slot < nout:
                pos[slot] = p
                offsets[slot, row + 1] = p - region[slot]
            f += 1
            if stop == NL:
                line += 1
                break
            if stop == -1:
                break
        if f != ncols:
            return FALLBACK, row, i, line
        row += 1
    return OK, row, i, line


def plain_bytes(delim: int) -> np.ndarray:
    """The ``plain`` table of ``scan`` for a delimiter."""
    plain = np.zeros(256, np.bool_)
    plain[:0x80] = True
    for b in (delim, NL, CR, QUOTE):
        plain[b] = False
    return plain
