"""Vectorised checks of resident IDs (GB 11643) and unified social credit codes (GB 32100).

Both codes are 18 ASCII characters. Resident IDs are checked by one kernel pass
(``kernels.text.resident_ids``), which also yields birth dates, sex digits and exact 64-bit codes
for uniqueness; credit codes, rarer and not on the hot path, as an (n, 18) byte matrix in numpy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .kernels.arrow import Strings

# Reason codes (index into the tuple); 0 = valid or empty (emptiness is the `required` rule's job).
RID_REASONS = ("ok", "format", "check_digit", "birth_date", "future_birth_date", "region_code")
USCC_REASONS = ("ok", "format", "registration_authority", "organisation_code", "check_character")

_RID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], np.int64)
_RID_CHECK = np.frombuffer(b"10X98765432", np.uint8)
_USCC_ALPHABET = b"0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], np.int64)
# GB 32100 registration authorities: 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游,
# 7 宗教, 8 工会, 9 市场监管 (工商), A 中央军委改革和编制办公室, N 农业农村, Y 其他.
REGISTRATION_AUTHORITIES = b"123456789ANY"
ORGANISATION_CATEGORIES = b"123459"
MIN_BIRTH = dt.date(1900, 1, 1)

_USCC_VALUE = np.full(256, -1, np.int64)
_USCC_VALUE[np.frombuffer(_USCC_ALPHABET, np.uint8)] = np.arange(31)
_ORG_VALUE = np.full(256, -1, np.int64)  # GB 11714: digits 0-9, letters A-Z = 10-35
_ORG_VALUE[48:58] = np.arange(10)
_ORG_VALUE[65:91] = np.arange(10, 36)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def fixed_width_matrix(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) uint8 matrix of the values that are exactly ``width`` bytes, and that row mask."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_binary())
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int64, n + 1, values.offset * 8)
    data = values.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None and len(data) else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    fits = lengths == width
    if values.null_count:
        fits &= values.is_valid().to_numpy(zero_copy_only=False)
    if fits.all() and n and offsets[-1] - offsets[0] == n * width:
        return raw[offsets[0] : offsets[-1]].reshape(n, width), fits
    matrix = np.full((n, width), 48, np.uint8)  # rows that do not fit read as "000..."
    rows = np.flatnonzero(fits)
    if rows.size:
        padded = np.concatenate((raw, np.zeros(width, np.uint8)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, width)
        matrix[rows] = windows[offsets[:-1][rows]]
    return matrix, fits


def _empty(values: pa.Array) -> np.ndarray:
    lengths = pc.fill_null(pc.binary_length(values), 0)
    return lengths.to_numpy(zero_copy_only=False) == 0


@dataclass
class ResidentIds:
    """What one pass over an ID column yields: a reason code, the birth date and the sex digit."""

    reason: np.ndarray  # int8 index into RID_REASONS
    birth_days: np.ndarray  # int32 days since 1970-01-01 (meaningful where reason == 0)
    male: np.ndarray  # bool: 17th digit odd
    code: np.ndarray  # uint64: exact 64-bit encoding of the ID (0 where the format is wrong)

    def reason_names(self) -> np.ndarray:
        return np.array(RID_REASONS, dtype=object)[self.reason]


def region_bitmap(region_codes: np.ndarray) -> np.ndarray:
    """A bool per six-digit code, True for the GB/T 2260 codes given (the kernel's region test)."""
    ok = np.zeros(1_000_000, np.bool_)
    ok[region_codes[(region_codes >= 0) & (region_codes < 1_000_000)]] = True
    return ok


def resident_ids(values: Strings, region_ok: np.ndarray, today_days: int) -> ResidentIds:
    """Check normalised 18-character IDs in one kernel pass: format, check digit, birth date
    (from 1900-01-01, not after ``today_days``), region (``region_bitmap``)."""
    from .kernels import text as tk

    min_days = MIN_BIRTH.toordinal() - _EPOCH_ORDINAL
    reason, birth, male, code = tk.resident_ids(
        values.offsets, values.data, values.valid, region_ok, today_days, min_days, tk._RID_WEIGHTS, tk._RID_CHECK
    )
    return ResidentIds(reason=reason, birth_days=birth, male=male, code=code)


def inspect_uscc(values: pa.Array) -> np.ndarray:
    """Reason codes (index into USCC_REASONS) for normalised 18-character credit codes."""
    m, fits = fixed_width_matrix(values, 18)
    v = _USCC_VALUE[m]
    fmt_ok = fits & (v >= 0).all(axis=1) & ((m[:, 2:8] >= 48) & (m[:, 2:8] <= 57)).all(axis=1)
    authority_ok = np.isin(m[:, 0], np.frombuffer(REGISTRATION_AUTHORITIES, np.uint8)) & np.isin(
        m[:, 1], np.frombuffer(ORGANISATION_CATEGORIES, np.uint8)
    )
    total = (np.where(fmt_ok[:, None], v[:, :17], 0) * _USCC_WEIGHTS).sum(axis=1)
    check_ok = _USCC_VALUE[m[:, 17]] == (31 - total % 31) % 31
    org = _ORG_VALUE[m[:, 8:16]]
    org_sum = (np.where(org >= 0, org, 0) * _ORG_WEIGHTS).sum(axis=1)
    c9 = 11 - org_sum % 11
    expected = np.where(c9 == 10, 88, np.where(c9 == 11, 48, 48 + c9))  # 'X', '0', digit
    org_ok = (org >= 0).all(axis=1) & (m[:, 16] == expected)
    reason = np.zeros(len(m), np.int8)
    reason[~check_ok] = 4
    reason[~org_ok] = 3
    reason[~authority_ok] = 2
    reason[~fmt_ok] = 1
    reason[_empty(values)] = 0
    return reason


def is_valid_uscc(code: str) -> bool:
    """Scalar check for forms and APIs. python-stdnum's ``cn.uscc`` wrongly rejects codes that
    start with A, N or Y (it requires eight leading digits) and skips the embedded organisation
    code check, so the scalar path reuses the vectorised one."""
    from stdnum.util import clean

    compact = clean(code, " -").strip().upper()
    return bool(compact) and inspect_uscc(pa.array([compact]))[0] == 0


def is_valid_resident_id(number: str, *, region_codes: np.ndarray, today: dt.date | None = None) -> bool:
    compact = number.strip().upper()
    today_days = (today or dt.date.today()).toordinal() - _EPOCH_ORDINAL
    info = resident_ids(Strings(pa.array([compact])), region_bitmap(region_codes), today_days)
    return bool(compact) and info.reason[0] == 0


def uscc_check_character(first17: str) -> str:
    """The GB 32100 check character for 17 characters (used by the synthetic data generator)."""
    total = sum(_USCC_ALPHABET.index(c.encode()) * w for c, w in zip(first17, _USCC_WEIGHTS.tolist()))
    return chr(_USCC_ALPHABET[(31 - total % 31) % 31])


def resident_id_check_digits(first17: np.ndarray) -> np.ndarray:
    """Check characters (uint8 ASCII) for an (n, 17) digit matrix (values 0-9)."""
    return _RID_CHECK[(first17.astype(np.int64) * _RID_WEIGHTS).sum(axis=1) % 11]
