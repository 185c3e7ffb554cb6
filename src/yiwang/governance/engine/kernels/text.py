"""Per-column kernels over Arrow string buffers: what needs normalising, validation, ID facts.

Each kernel is one pass over a column's bytes. Where a result needs Unicode tables (a person
name outside the common CJK blocks and ASCII, a case mapping outside ASCII, a date spelling
other than ``YYYY-MM-DD``) the kernel says "undetermined" and ``fastpath`` computes those rows
with the rule's Polars definition.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

_U = np.uint64  # array indices cast to unsigned: no negative-index wraparound code per access

# -- which rows normalisation could change ---------------------------------------------------
# byte classes (bit flags) for the "needs normalising" scan
B_WIDE = 1  # 0xC2, 0xE1, 0xE2, 0xE3, 0xEF lead bytes: full-width forms, Unicode spaces, dots
B_SPACE = 2  # ASCII whitespace
B_SEP = 4  # - ( )
B_LOWER = 8  # a-z
B_UPPER = 16  # A-Z
B_HIGH = 32  # any byte >= 0x80
B_COMMA = 64  # ,
BYTE_CLASS = np.zeros(256, np.uint8)
BYTE_CLASS[0x80:] |= B_HIGH
for _b in (0xC2, 0xE1, 0xE2, 0xE3, 0xEF):
    BYTE_CLASS[_b] |= B_WIDE
for _b in b" \t\n\r\x0b\x0c":
    BYTE_CLASS[_b] |= B_SPACE
for _b in b"-()":
    BYTE_CLASS[_b] |= B_SEP
BYTE_CLASS[ord("a") : ord("z") + 1] |= B_LOWER
BYTE_CLASS[ord("A") : ord("Z") + 1] |= B_UPPER
BYTE_CLASS[ord(",")] |= B_COMMA

# extra per-kind tests, flags for ``needs_normalising``
K_PHONE = 1  # longer than 12 bytes or starting with "+"
K_GENDER = 2  # anything but exactly 男 or 女


@jit
def needs_normalising(offsets, data, valid, classes, any_mask, kind_tests):
    """Rows whose value normalisation might change (conservative: never misses one).

    A row is flagged when it holds a byte of a class in ``any_mask``, starts or ends with an
    ASCII space, or fails a kind test. Null rows are never flagged (they stay null).

    Such bytes are rare: the buffer is tested 128 bytes at a time with a branch-free predicate
    LLVM vectorises, and only a block that holds one is walked again to find its rows.
    """
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.bool_)
    if n == 0:
        return out
    wide = (any_mask & B_WIDE) != 0
    space = (any_mask & B_SPACE) != 0
    sep = (any_mask & B_SEP) != 0
    lower = (any_mask & B_LOWER) != 0
    upper = (any_mask & B_UPPER) != 0
    high = (any_mask & B_HIGH) != 0
    comma = (any_mask & B_COMMA) != 0
    lo = offsets[0]
    hi = offsets[_U(n)]
    r = 0
    i = lo
    while i < hi:
        e = min(i + 128, hi)
        acc = False
        for k in range(i, e):
            c = data[_U(k)]
            acc |= (
                (wide & ((c == 0xC2) | ((c >= 0xE1) & (c <= 0xE3)) | (c == 0xEF)))
                | (space & ((c == 32) | ((c >= 9) & (c <= 13))))
                | (sep & ((c == 45) | (c == 40) | (c == 41)))
                | (lower & (c >= 97) & (c <= 122))
                | (upper & (c >= 65) & (c <= 90))
                | (high & (c >= 128))
                | (comma & (c == 44))
            )
        if acc:
            for k in range(i, e):
                if classes[data[_U(k)]] & any_mask:
                    while offsets[_U(r + 1)] <= k:
                        r += 1
                    out[_U(r)] = True
        i = e
    for r in range(n):
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        if b == a:
            continue
        if (classes[data[_U(a)]] & B_SPACE) or (classes[data[_U(b - 1)]] & B_SPACE):
            out[_U(r)] = True
        if kind_tests & K_PHONE:
            if b - a > 12 or data[_U(a)] == 43:
                out[_U(r)] = True
        if kind_tests & K_GENDER:
            # 男 E7 94 B7, 女 E5 A5 B3
            if not (
                b - a == 3
                and (
                    (data[_U(a)] == 0xE7 and data[_U(a + 1)] == 0x94 and data[_U(a + 2)] == 0xB7)
                    or (data[_U(a)] == 0xE5 and data[_U(a + 1)] == 0xA5 and data[_U(a + 2)] == 0xB3)
                )
            ):
                out[_U(r)] = True
    if valid.shape[0] > 0:
        for r in range(n):
            if not valid[_U(r)]:
                out[_U(r)] = False
    return out


# -- patterns ---------------------------------------------------------------------------------
P_MOBILE, P_LANDLINE, P_PHONE, P_POSTAL, P_DIVISION = 0, 1, 2, 3, 4


@jit
def match_pattern(offsets, data, valid, pattern):
    """0 matches, 1 does not, 2 holds a non-ASCII byte (the caller counts it as a failure: digits
    are ASCII). Null and empty rows give 0 (emptiness is the ``required`` rule's business).

    mobile ``1[3-9]`` + 9 digits; landline ``0`` + 9-11 digits; phone = either; postal 6 digits;
    division 6, 9 or 12 digits.
    """
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.int8)
    has_valid = valid.shape[0] > 0
    for r in range(n):
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        m = offsets[_U(r + 1)] - a
        if m == 0:
            continue
        digits = True
        high = False
        for i in range(a, a + m):
            c = data[_U(i)]
            if c >= 0x80:
                high = True
                break
            if c < 48 or c > 57:
                digits = False
        if high:
            out[_U(r)] = 2
            continue
        ok = False
        if digits:
            if pattern == P_MOBILE or pattern == P_PHONE:
                ok = m == 11 and data[_U(a)] == 49 and data[_U(a + 1)] >= 51
            if not ok and (pattern == P_LANDLINE or pattern == P_PHONE):
                ok = 10 <= m <= 12 and data[_U(a)] == 48
            if pattern == P_POSTAL:
                ok = m == 6
            if pattern == P_DIVISION:
                ok = m == 6 or m == 9 or m == 12
        out[_U(r)] = 0 if ok else 1
    return out


@jit
def char_lengths(offsets, data):
    """Characters (code points) per value of valid UTF-8."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.int64)
    for r in range(n):
        count = 0
        for i in range(offsets[_U(r)], offsets[_U(r + 1)]):
            if (data[_U(i)] & 0xC0) != 0x80:
                count += 1
        out[_U(r)] = count
    return out


@jit
def person_names(offsets, data, valid):
    """``^[\\p{Han}\\p{Latin}·][\\p{Han}\\p{Latin}· ]{0,39}$``: 0 match, 1 no match, 2 undetermined.

    Decided here: CJK Unified Ideographs (U+4E00-9FFF) and Extension A (U+3400-4DBF), which are
    all Script=Han, ASCII letters, the middle dot and the space. Any other character is left
    to the reference regex and its Unicode tables.
    """
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.int8)
    has_valid = valid.shape[0] > 0
    for r in range(n):
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        if a == b:
            continue
        count = 0
        verdict = 0
        i = a
        while i < b:
            c = data[_U(i)]
            if c < 0x80:
                if (65 <= c <= 90) or (97 <= c <= 122):
                    pass
                elif c == 32:
                    if count == 0:
                        verdict = 1
                else:
                    verdict = 1
                i += 1
            elif c == 0xC2 and i + 1 < b and data[_U(i + 1)] == 0xB7:  # ·
                i += 2
            elif 0xE3 <= c <= 0xE9 and i + 2 < b:
                cp = ((c & 0x0F) << 12) | ((data[_U(i + 1)] & 0x3F) << 6) | (data[_U(i + 2)] & 0x3F)
                if not ((0x3400 <= cp <= 0x4DBF) or (0x4E00 <= cp <= 0x9FFF)):
                    verdict = 2
                    break
                i += 3
            else:
                verdict = 2
                break
            count += 1
        if verdict == 0 and count > 40:
            verdict = 1
        out[_U(r)] = verdict
    return out


# -- dates ------------------------------------------------------------------------------------
NO_DATE = -(10**6)


@jit(inline="always")
def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@jit(inline="always")
def _days_in_month(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


@jit
def iso_dates(offsets, data, valid):
    """Dates → (days since epoch, decided). Decided: ``YYYY-MM-DD`` and the spellings the
    reference turns into it — ``YYYY/M/D``, ``YYYY.M.D``, ``YYYY年M月D日`` (any mix of those
    separators, months and days of one or two digits, an optional final 日) and ``YYYYMMDD`` —
    for years 1000-9999 and real calendar days. Everything else (times, Excel serials, other
    years, impossible days, nulls) is parsed by the reference (``normalise.parse_date_series``).
    """
    n = offsets.shape[0] - 1
    days = np.zeros(n, np.int32)
    decided = np.zeros(n, np.bool_)
    has_valid = valid.shape[0] > 0
    for r in range(n):
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        if b - a < 8:
            continue
        y = 0
        ok = True
        for k in range(4):
            c = data[_U(a + k)]
            if c < 48 or c > 57:
                ok = False
                break
            y = y * 10 + (c - 48)
        if not ok:
            continue
        i = a + 4
        digits8 = b - a == 8
        if digits8:
            for k in range(4, 8):
                c = data[_U(a + k)]
                if c < 48 or c > 57:
                    digits8 = False
        if digits8:  # YYYYMMDD
            m = (data[_U(a + 4)] - 48) * 10 + (data[_U(a + 5)] - 48)
            d = (data[_U(a + 6)] - 48) * 10 + (data[_U(a + 7)] - 48)
        else:
            m = -1
            d = -1
            for part in range(2):
                # a separator: - / . or 年 (E5 B9 B4) before the month, 月 (E6 9C 88) before the day
                c = data[_U(i)]
                if c == 45 or c == 47 or c == 46:
                    i += 1
                elif (c == 0xE5 and i + 2 < b and data[_U(i + 1)] == 0xB9 and data[_U(i + 2)] == 0xB4) or (
                    c == 0xE6 and i + 2 < b and data[_U(i + 1)] == 0x9C and data[_U(i + 2)] == 0x88
                ):
                    i += 3
                else:
                    break
                value = 0
                count = 0
                while i < b and count < 3:
                    c = data[_U(i)]
                    if c < 48 or c > 57:
                        break
                    value = value * 10 + (c - 48)
                    count += 1
                    i += 1
                if count < 1 or count > 2:
                    break
                if part == 0:
                    m = value
                else:
                    d = value
                if i >= b:
                    break
            if d < 0:
                continue
            if i < b:  # only a final 日 (E6 97 A5) may follow
                if not (i + 3 == b and data[_U(i)] == 0xE6 and data[_U(i + 1)] == 0x97 and data[_U(i + 2)] == 0xA5):
                    continue
        if y < 1000 or m < 1 or m > 12 or d < 1 or d > _days_in_month(y, m):
            continue
        days[_U(r)] = days_from_civil(y, m, d)
        decided[_U(r)] = True
    return days, decided


# -- resident IDs (GB 11643) ------------------------------------------------------------------
_RID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], np.int64)
_RID_CHECK = np.frombuffer(b"10X98765432", np.uint8).copy()


@jit
def resident_ids(offsets, data, valid, region_ok, today_days, min_days, weights, check_chars):
    """Reason code (as ``idcodes.RID_REASONS``), birth day, sex digit and exact 64-bit code per ID.

    Same precedence as the GB 11643 oracle in the tests: empty 0, format 1, check digit 2,
    birth date 3, future birth date 4, region 5.
    """
    n = offsets.shape[0] - 1
    reason = np.zeros(n, np.int8)
    birth = np.full(n, NO_DATE, np.int32)
    male = np.zeros(n, np.bool_)
    code = np.zeros(n, np.uint64)
    has_valid = valid.shape[0] > 0
    for r in range(n):
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        length = offsets[_U(r + 1)] - a
        if length == 0:
            continue
        if length != 18:
            reason[_U(r)] = 1
            continue
        fmt = True
        total = 0
        body = 0
        for k in range(17):
            c = data[_U(a + k)] - 48
            if c < 0 or c > 9:
                fmt = False
                break
            total += c * weights[_U(k)]
            body = body * 10 + c
        last = data[_U(a + 17)]
        if not fmt or not ((48 <= last <= 57) or last == 88):
            reason[_U(r)] = 1
            continue
        code[_U(r)] = np.uint64(body * 11 + (10 if last == 88 else last - 48) + 1)
        male[_U(r)] = (data[_U(a + 16)] - 48) % 2 == 1
        y = (
            (data[_U(a + 6)] - 48) * 1000
            + (data[_U(a + 7)] - 48) * 100
            + (data[_U(a + 8)] - 48) * 10
            + (data[_U(a + 9)] - 48)
        )
        m = (data[_U(a + 10)] - 48) * 10 + (data[_U(a + 11)] - 48)
        d = (data[_U(a + 12)] - 48) * 10 + (data[_U(a + 13)] - 48)
        date_ok = 1 <= m <= 12 and 1 <= d <= _days_in_month(y, m) and y >= 1
        days = days_from_civil(y, m, d) if date_ok else NO_DATE
        birth[_U(r)] = days
        if check_chars[_U(total % 11)] != last:
            reason[_U(r)] = 2
        elif not date_ok or days < min_days:
            reason[_U(r)] = 3
        elif days > today_days:
            reason[_U(r)] = 4
        else:
            region = (
                (data[_U(a)] - 48) * 100000
                + (data[_U(a + 1)] - 48) * 10000
                + (data[_U(a + 2)] - 48) * 1000
                + (data[_U(a + 3)] - 48) * 100
                + (data[_U(a + 4)] - 48) * 10
                + (data[_U(a + 5)] - 48)
            )
            if not region_ok[_U(region)]:
                reason[_U(r)] = 5
    return reason, birth, male, code


# -- normalising the flagged rows ----------------------------------------------------------------
N_TEXT, N_IDLIKE, N_ID_UPPER, N_PHONE, N_GENDER, N_EMAIL, N_NAME, N_ADDRESS = 0, 1, 2, 3, 4, 5, 6, 7
N_THOUSANDS = 16  # flag: int / decimal columns also drop "," and white space


@jit(inline="always")
def _white(cp):
    """Unicode White_Space (Rust ``char::is_whitespace``, regex ``\\s``)."""
    if cp <= 0x20:
        return cp == 0x20 or 9 <= cp <= 13
    if cp < 0x85:
        return False
    return (
        cp == 0x85
        or cp == 0xA0
        or cp == 0x1680
        or 0x2000 <= cp <= 0x200A
        or cp == 0x2028
        or cp == 0x2029
        or cp == 0x202F
        or cp == 0x205F
        or cp == 0x3000
    )


@jit
def normalise_rows(offsets, data, rows, mode, keys, key_off, key_target, targets, target_off):
    """``normalise.normalised_text`` for the rows ``rows``: returns (offsets, bytes, undecided).

    Steps as the reference, per value: full-width forms → ASCII, trim white space, then by
    ``mode``: ID-like (drop white space and - ( )), + upper-case (resident ID, credit code),
    phone (+ country code), gender (lower-case, then ``keys`` → ``targets``), e-mail
    (lower-case), person name (drop white space, dots → ·), address (drop white space); the
    ``N_THOUSANDS`` flag drops "," and white space. Case mappings are only decided for ASCII;
    anything else with letters outside ASCII and CJK is left to the reference (undecided).
    """
    m = rows.shape[0]
    kind = mode & 15
    thousands = (mode & N_THOUSANDS) != 0
    longest = 0
    total = 0
    for j in range(m):
        r = rows[_U(j)]
        n = offsets[_U(r + 1)] - offsets[_U(r)]
        longest = max(longest, n)
        total += n
    cps = np.empty(longest + 1, np.int64)
    out = np.empty(total + m * 8, np.uint8)
    out_off = np.empty(m + 1, np.int64)
    out_off[0] = 0
    undecided = np.zeros(m, np.bool_)
    p = 0
    for j in range(m):
        r = rows[_U(j)]
        a = offsets[_U(r)]
        b = offsets[_U(r + 1)]
        # decode (valid UTF-8) + full-width forms
        n = 0
        i = a
        while i < b:
            c = np.int64(data[_U(i)])
            if c < 0x80:
                cp = c
                i += 1
            elif c < 0xE0:
                cp = ((c & 0x1F) << 6) | (data[_U(i + 1)] & 0x3F)
                i += 2
            elif c < 0xF0:
                cp = ((c & 0x0F) << 12) | ((data[_U(i + 1)] & 0x3F) << 6) | (data[_U(i + 2)] & 0x3F)
                i += 3
            else:
                cp = (
                    ((c & 0x07) << 18)
                    | ((data[_U(i + 1)] & 0x3F) << 12)
                    | ((data[_U(i + 2)] & 0x3F) << 6)
                    | (data[_U(i + 3)] & 0x3F)
                )
                i += 4
            if 0xFF01 <= cp <= 0xFF5E:
                cp -= 0xFEE0
            elif cp == 0x3000:
                cp = 0x20
            cps[_U(n)] = cp
            n += 1
        # trim
        s = 0
        while s < n and _white(cps[_U(s)]):
            s += 1
        e = n
        while e > s and _white(cps[_U(e - 1)]):
            e -= 1
        # kind steps (in place, compacting)
        bad = False
        if kind == N_IDLIKE or kind == N_ID_UPPER or kind == N_PHONE:
            k = s
            for t in range(s, e):
                cp = cps[_U(t)]
                if not (_white(cp) or cp == 45 or cp == 40 or cp == 41):
                    cps[_U(k)] = cp
                    k += 1
            e = k
        if kind == N_ID_UPPER:
            lower = False
            high = False
            for t in range(s, e):
                cp = cps[_U(t)]
                lower |= 97 <= cp <= 122
                high |= cp >= 0x80
            if lower:
                if high:
                    bad = True
                else:
                    for t in range(s, e):
                        if 97 <= cps[_U(t)] <= 122:
                            cps[_U(t)] -= 32
        elif kind == N_PHONE:
            nbytes = 0
            for t in range(s, e):
                cp = cps[_U(t)]
                nbytes += 1 if cp < 0x80 else (2 if cp < 0x800 else (3 if cp < 0x10000 else 4))
            if nbytes > 12 or (e > s and cps[_U(s)] == 43):
                if e - s >= 3 and cps[_U(s)] == 43 and cps[_U(s + 1)] == 56 and cps[_U(s + 2)] == 54:
                    s += 3
                elif (
                    e - s >= 4
                    and cps[_U(s)] == 48
                    and cps[_U(s + 1)] == 48
                    and cps[_U(s + 2)] == 56
                    and cps[_U(s + 3)] == 54
                ):
                    s += 4
                high = False
                digits = True
                for t in range(s, e):
                    cp = cps[_U(t)]
                    high |= cp >= 0x80
                    digits &= 48 <= cp <= 57
                if high:
                    bad = True  # the reference's \\d is Unicode
                elif (
                    digits
                    and e - s == 13
                    and cps[_U(s)] == 56
                    and cps[_U(s + 1)] == 54
                    and cps[_U(s + 2)] == 49
                    and 51 <= cps[_U(s + 3)] <= 57
                ):
                    s += 2
        elif kind == N_GENDER or kind == N_EMAIL:
            changed = True
            if kind == N_GENDER and e - s == 1 and (cps[_U(s)] == 0x7537 or cps[_U(s)] == 0x5973):
                changed = False  # already 男 / 女
            if changed:
                for t in range(s, e):
                    cp = cps[_U(t)]
                    if 65 <= cp <= 90:
                        cps[_U(t)] = cp + 32
                    elif cp >= 0x80 and not (
                        kind == N_GENDER and ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF))
                    ):
                        bad = True
                if kind == N_GENDER and not bad:
                    for k in range(key_off.shape[0] - 1):
                        ka = key_off[_U(k)]
                        kb = key_off[_U(k + 1)]
                        if kb - ka != e - s:
                            continue
                        same = True
                        for t in range(kb - ka):
                            if keys[_U(ka + t)] != cps[_U(s + t)]:
                                same = False
                                break
                        if same:
                            tgt = key_target[_U(k)]
                            ta = target_off[_U(tgt)]
                            tb = target_off[_U(tgt + 1)]
                            for t in range(tb - ta):
                                cps[_U(s + t)] = targets[_U(ta + t)]
                            e = s + (tb - ta)
                            break
        elif kind == N_NAME or kind == N_ADDRESS:
            k = s
            for t in range(s, e):
                cp = cps[_U(t)]
                if _white(cp):
                    continue
                if kind == N_NAME and (cp == 0x2022 or cp == 0x2027 or cp == 0x2219 or cp == 0x30FB):
                    cp = 0xB7
                cps[_U(k)] = cp
                k += 1
            e = k
        if thousands:
            k = s
            for t in range(s, e):
                cp = cps[_U(t)]
                if not (cp == 44 or _white(cp)):
                    cps[_U(k)] = cp
                    k += 1
            e = k
        if bad:
            undecided[_U(j)] = True
            out_off[_U(j + 1)] = p
            continue
        for t in range(s, e):
            cp = cps[_U(t)]
            if cp < 0x80:
                out[_U(p)] = cp
                p += 1
            elif cp < 0x800:
                out[_U(p)] = 0xC0 | (cp >> 6)
                out[_U(p + 1)] = 0x80 | (cp & 0x3F)
                p += 2
            elif cp < 0x10000:
                out[_U(p)] = 0xE0 | (cp >> 12)
                out[_U(p + 1)] = 0x80 | ((cp >> 6) & 0x3F)
                out[_U(p + 2)] = 0x80 | (cp & 0x3F)
                p += 3
            else:
                out[_U(p)] = 0xF0 | (cp >> 18)
                out[_U(p + 1)] = 0x80 | ((cp >> 12) & 0x3F)
                out[_U(p + 2)] = 0x80 | ((cp >> 6) & 0x3F)
                out[_U(p + 3)] = 0x80 | (cp & 0x3F)
                p += 4
        out_off[_U(j + 1)] = p
    return out_off, out[:p], undecided


@jit
def genders(offsets, data, valid):
    """1 for 男, 2 for 女, 0 for anything else (null, empty, other text)."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.int8)
    has_valid = valid.shape[0] > 0
    for r in range(n):
        if has_valid and not valid[_U(r)]:
            continue
        a = offsets[_U(r)]
        if offsets[_U(r + 1)] - a != 3:
            continue
        c0 = data[_U(a)]
        c1 = data[_U(a + 1)]
        c2 = data[_U(a + 2)]
        if c0 == 0xE7 and c1 == 0x94 and c2 == 0xB7:
            out[_U(r)] = 1
        elif c0 == 0xE5 and c1 == 0xA5 and c2 == 0xB3:
            out[_U(r)] = 2
    return out
