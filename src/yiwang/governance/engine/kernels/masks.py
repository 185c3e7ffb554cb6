"""Share-zone masks as kernels over the accepted rows of a column.

Each kernel decides the ordinary rows and marks the rest (nulls, empty values, years outside
0001-9999, ...) undecided; the caller computes those few with the reference Polars
expression and splices them in, so the column equals the reference's.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

_U = np.uint64  # array indices cast to unsigned: no negative-index wraparound code per access


@jit(inline="always")
def _utf8_len(c):
    if c < 0x80:
        return 1
    if c < 0xE0:
        return 2
    if c < 0xF0:
        return 3
    return 4


@jit
def keep_ends(offsets, data, valid, rows, first, last, stars, star_pos):
    """``head(first) + stars(n - first - last) + tail(last)`` when n > first + last, else
    ``stars(n)``; ``stars(c)`` = ``stars[:star_pos[min(c, 256)]]``. Null and empty: undecided."""
    m = rows.shape[0]
    has_valid = valid.shape[0] > 0
    bound = 0
    for j in range(m):
        r = rows[_U(j)]
        bound += offsets[_U(r + 1)] - offsets[_U(r)]
    out = np.empty(bound + _star_bound(offsets, rows, star_pos), np.uint8)
    out_off = np.empty(m + 1, np.int64)
    out_off[0] = 0
    undecided = np.zeros(m, np.bool_)
    p = 0
    for j in range(m):
        r = rows[_U(j)]
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        if (has_valid and not valid[_U(r)]) or a == b:
            undecided[_U(j)] = True
            out_off[_U(j + 1)] = p
            continue
        n = 0
        for i in range(a, b):
            if (data[_U(i)] & 0xC0) != 0x80:
                n += 1
        if n > first + last:
            # head: the first `first` characters
            i = a
            for _ in range(first):
                i += _utf8_len(data[_U(i)])
            for t in range(a, i):
                out[_U(p)] = data[_U(t)]
                p += 1
            hidden = n - first - last
            e = star_pos[_U(min(256, hidden))]
            for t in range(e):
                out[_U(p)] = stars[_U(t)]
                p += 1
            # tail: the last `last` characters
            i = b
            k = 0
            while k < last:
                i -= 1
                if (data[_U(i)] & 0xC0) != 0x80:
                    k += 1
            for t in range(i, b):
                out[_U(p)] = data[_U(t)]
                p += 1
        else:
            e = star_pos[_U(min(256, n))]
            for t in range(e):
                out[_U(p)] = stars[_U(t)]
                p += 1
        out_off[_U(j + 1)] = p
    return out_off, out[:p], undecided


@jit
def _star_bound(offsets, rows, star_pos):
    """Bytes of stars a mask can add at most: min(n, 256) characters per row, n <= bytes."""
    total = 0
    per = star_pos[256]
    for j in range(rows.shape[0]):
        r = rows[_U(j)]
        n = offsets[_U(r + 1)] - offsets[_U(r)]
        total += star_pos[_U(n)] if n < 256 else per
    return total


@jit
def surname(offsets, data, valid, rows, compounds, stars, star_pos):
    """``head(k) + stars(n - k)``, k = 2 for a compound surname (``compounds``: sorted codes
    ``cp1 << 21 | cp2``) when n >= 3, else 1. Null and empty: undecided."""
    m = rows.shape[0]
    has_valid = valid.shape[0] > 0
    bound = 0
    for j in range(m):
        r = rows[_U(j)]
        bound += offsets[_U(r + 1)] - offsets[_U(r)]
    out = np.empty(bound + _star_bound(offsets, rows, star_pos), np.uint8)
    out_off = np.empty(m + 1, np.int64)
    out_off[0] = 0
    undecided = np.zeros(m, np.bool_)
    p = 0
    for j in range(m):
        r = rows[_U(j)]
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        if (has_valid and not valid[_U(r)]) or a == b:
            undecided[_U(j)] = True
            out_off[_U(j + 1)] = p
            continue
        n = 0
        for i in range(a, b):
            if (data[_U(i)] & 0xC0) != 0x80:
                n += 1
        k = 1
        l1 = _utf8_len(data[_U(a)])
        if n >= 3:
            cp1 = _decode(data, a, l1)
            l2 = _utf8_len(data[_U(a + l1)])
            cp2 = _decode(data, a + l1, l2)
            key = (cp1 << 21) | cp2
            lo = 0
            hi = compounds.shape[0]
            while lo < hi:
                mid = (lo + hi) // 2
                if compounds[_U(mid)] < key:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < compounds.shape[0] and compounds[_U(lo)] == key:
                k = 2
        end = a + l1
        if k == 2:
            end += _utf8_len(data[_U(end)])
        for t in range(a, end):
            out[_U(p)] = data[_U(t)]
            p += 1
        hidden = n - k
        e = star_pos[_U(min(256, hidden))]
        for t in range(e):
            out[_U(p)] = stars[_U(t)]
            p += 1
        out_off[_U(j + 1)] = p
    return out_off, out[:p], undecided


@jit(inline="always")
def _decode(data, i, length):
    if length == 1:
        return np.int64(data[_U(i)])
    if length == 2:
        return (np.int64(data[_U(i)] & 0x1F) << 6) | (data[_U(i + 1)] & 0x3F)
    if length == 3:
        return (np.int64(data[_U(i)] & 0x0F) << 12) | ((data[_U(i + 1)] & 0x3F) << 6) | (data[_U(i + 2)] & 0x3F)
    return (
        (np.int64(data[_U(i)] & 0x07) << 18)
        | ((data[_U(i + 1)] & 0x3F) << 12)
        | ((data[_U(i + 2)] & 0x3F) << 6)
        | (data[_U(i + 3)] & 0x3F)
    )


@jit
def cut_at_marker(offsets, data, valid, rows, markers, marker_off, lead, second):
    """Prefix up to and including the earliest marker (the longest one on a tie; ``markers``
    are ordered longest first); -1 where none occurs or the value is null.

    Every byte position is tried (a marker starts with a lead or ASCII byte, which never occurs
    inside a character, so this equals trying character starts) — stepping by character would
    chain each load on the previous one. ``lead[_U(b)]`` / ``second[_U(b)]``: bitmask of the markers
    (at most 64) whose first / second byte is b (a one-byte marker is in every ``second``
    entry), so most positions cost two table loads.
    """
    m = rows.shape[0]
    nmark = marker_off.shape[0] - 1
    has_valid = valid.shape[0] > 0
    ends = np.full(m, -1, np.int64)
    one = np.uint64(1)
    for j in range(m):
        r = rows[_U(j)]
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        found = -1
        for i in range(a, b):
            # both table loads every position, one rarely-taken branch
            nxt = data[_U(i + 1)] if i + 1 < b else np.uint8(0)
            cand = lead[_U(data[_U(i)])] & (second[_U(nxt)] if i + 1 < b else np.uint64(0xFFFFFFFFFFFFFFFF))
            if cand == 0:
                continue
            for k in range(nmark):
                if not (cand >> np.uint64(k)) & one:
                    continue
                ma = marker_off[_U(k)]
                mb = marker_off[_U(k + 1)]
                if i + (mb - ma) <= b:
                    same = True
                    for t in range(mb - ma):
                        if data[_U(i + t)] != markers[_U(ma + t)]:
                            same = False
                            break
                    if same:
                        found = i + (mb - ma)
                        break
            if found >= 0:
                break
        if found >= 0:
            ends[_U(j)] = found - a
    return ends


@jit
def county_cut(offsets, data, valid, rows, stops, suffixes):
    """``masking._county``: the text before the first ASCII digit or ``stops`` character (or
    社区), cut after its last ``suffixes`` character (县区市旗); -1 where there is none.

    ``stops`` / ``suffixes``: three-byte UTF-8 characters as ``b0 << 16 | b1 << 8 | b2``
    (the pair 社区 is built in); scanned bytewise, as ``cut_at_marker``.
    """
    m = rows.shape[0]
    has_valid = valid.shape[0] > 0
    ends = np.full(m, -1, np.int64)
    she = (0xE7 << 16) | (0xA4 << 8) | 0xBE  # 社
    qu = (0xE5 << 16) | (0x8C << 8) | 0xBA  # 区
    for j in range(m):
        r = rows[_U(j)]
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        last = -1
        for i in range(a, b):
            c = data[_U(i)]
            if 48 <= c <= 57:
                break
            if c < 0xE0 or c >= 0xF0 or i + 2 >= b:
                continue
            key = (np.int64(c) << 16) | (np.int64(data[_U(i + 1)]) << 8) | np.int64(data[_U(i + 2)])
            stop = False
            for k in range(stops.shape[0]):
                if key == stops[_U(k)]:
                    stop = True
            if (
                key == she
                and i + 5 < b
                and ((np.int64(data[_U(i + 3)]) << 16) | (np.int64(data[_U(i + 4)]) << 8) | np.int64(data[_U(i + 5)]))
                == qu
            ):
                stop = True
            if stop:
                break
            for k in range(suffixes.shape[0]):
                if key == suffixes[_U(k)]:
                    last = i
        if last >= 0:
            ends[_U(j)] = last - a + 3
    return ends


@jit
def prefixes(offsets, data, rows, ends):
    """Rows cut to ``ends[_U(j)]`` bytes; ``ends[_U(j)] < 0`` gives an empty slot (the caller marks it)."""
    m = rows.shape[0]
    out_off = np.empty(m + 1, np.int64)
    out_off[0] = 0
    total = 0
    for j in range(m):
        if ends[_U(j)] > 0:
            total += ends[_U(j)]
        out_off[_U(j + 1)] = total
    out = np.empty(total, np.uint8)
    for j in range(m):
        e = ends[_U(j)]
        if e > 0:
            a = offsets[rows[_U(j)]]
            p = out_off[_U(j)]
            for t in range(e):
                out[_U(p + t)] = data[_U(a + t)]
    return out_off, out


@jit(inline="always")
def civil_from_days(z):
    """(year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm)."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return y + (m <= 2), m, d


@jit
def year_text(days, valid, rows, with_month):
    """``%Y`` or ``%Y-%m`` of dates (days since epoch); years outside 1-9999 and nulls undecided."""
    m = rows.shape[0]
    width = 7 if with_month else 4
    out = np.empty(m * width, np.uint8)
    out_off = np.empty(m + 1, np.int64)
    out_off[0] = 0
    undecided = np.zeros(m, np.bool_)
    has_valid = valid.shape[0] > 0
    p = 0
    for j in range(m):
        r = rows[_U(j)]
        if has_valid and not valid[_U(r)]:
            undecided[_U(j)] = True
            out_off[_U(j + 1)] = p
            continue
        y, mo, _day = civil_from_days(np.int64(days[_U(r)]))
        if y < 1 or y > 9999:
            undecided[_U(j)] = True
            out_off[_U(j + 1)] = p
            continue
        out[_U(p)] = 48 + y // 1000
        out[_U(p + 1)] = 48 + (y // 100) % 10
        out[_U(p + 2)] = 48 + (y // 10) % 10
        out[_U(p + 3)] = 48 + y % 10
        if with_month:
            out[_U(p + 4)] = 45
            out[_U(p + 5)] = 48 + mo // 10
            out[_U(p + 6)] = 48 + mo % 10
        p += width
        out_off[_U(j + 1)] = p
    return out_off, out[:p], undecided


@jit
def age_bands(days, valid, rows, ref_ymd, top, width, band_label, labels, label_off):
    """``masking.age_band`` as text: completed years at the reference date (``ref_ymd`` as
    yyyymmdd), banded; ``band_label[_U(band)]`` is the label index of a band value (-1: none, the
    reference's ``replace_strict`` default). Null where the date is null, the age negative or
    the band has no label."""
    m = rows.shape[0]
    has_valid = valid.shape[0] > 0
    out_off = np.empty(m + 1, np.int64)
    ok = np.zeros(m, np.bool_)
    longest = 0
    for k in range(label_off.shape[0] - 1):
        longest = max(longest, label_off[_U(k + 1)] - label_off[_U(k)])
    out = np.empty(m * longest, np.uint8)
    out_off[0] = 0
    p = 0
    for j in range(m):
        r = rows[_U(j)]
        if not has_valid or valid[_U(r)]:
            y, mo, d = civil_from_days(np.int64(days[_U(r)]))
            age = (ref_ymd - (y * 10000 + mo * 100 + d)) // 10000
            if age >= 0:
                low = (min(age, top) // width) * width
                band = top if age >= top else low
                label = band_label[_U(band)] if 0 <= band < band_label.shape[0] else -1
                if label >= 0:
                    a = label_off[_U(label)]
                    b = label_off[_U(label + 1)]
                    for t in range(b - a):
                        out[_U(p + t)] = labels[_U(a + t)]
                    p += b - a
                    ok[_U(j)] = True
        out_off[_U(j + 1)] = p
    return out_off, out[:p], ok


@jit
def triple_hits(data, lo, hi, firsts, out):
    """``out[k]``: the three bytes at ``lo + k`` are one of four byte triples (``firsts``: 4 x 3
    uint8; markers start with such a character) — byte compares only, so LLVM vectorises it.

    ``out`` (reused between calls: no page faults) must hold ``(hi - lo + 16) & ~7`` bytes, a
    whole number of 8-byte words (``cut_at_hits`` reads words)."""
    n = hi - lo
    a0, a1, a2 = firsts[0], firsts[1], firsts[2]
    b0, b1, b2 = firsts[3], firsts[4], firsts[5]
    c0, c1, c2 = firsts[6], firsts[7], firsts[8]
    d0, d1, d2 = firsts[9], firsts[10], firsts[11]
    for k in range(max(n - 2, 0)):
        x = data[_U(lo + k)]
        y = data[_U(lo + k + 1)]
        z = data[_U(lo + k + 2)]
        out[_U(k)] = (
            ((x == a0) & (y == a1) & (z == a2))
            | ((x == b0) & (y == b1) & (z == b2))
            | ((x == c0) & (y == c1) & (z == c2))
            | ((x == d0) & (y == d1) & (z == d2))
        )
    for k in range(max(n - 2, 0), (n + 16) & ~7):
        out[_U(k)] = 0


@jit
def cut_at_hits(offsets, data, valid, rows, markers, marker_off, hits, lo):
    """``cut_at_marker`` where ``hits`` (from ``triple_hits``) says which positions may start a
    marker: a row is a scan of its hit bytes, eight at a time, with a full comparison only
    where one is set."""
    m = rows.shape[0]
    nmark = marker_off.shape[0] - 1
    has_valid = valid.shape[0] > 0
    ends = np.full(m, -1, np.int64)
    words = hits.view(np.uint64)
    for j in range(m):
        r = rows[_U(j)]
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        found = -1
        i = a
        while i < b:
            rel = i - lo
            if (rel & 7) == 0 and words[_U(rel >> 3)] == 0:  # eight positions without a hit
                i += 8
                continue
            if hits[_U(rel)] == 0:
                i += 1
                continue
            for k in range(nmark):
                ma = marker_off[_U(k)]
                mb = marker_off[_U(k + 1)]
                if i + (mb - ma) <= b:
                    same = True
                    for t in range(mb - ma):
                        if data[_U(i + t)] != markers[_U(ma + t)]:
                            same = False
                            break
                    if same:
                        found = i + (mb - ma)
                        break
            if found >= 0:
                break
            i += 1
        if found >= 0:
            ends[_U(j)] = found - a
    return ends
