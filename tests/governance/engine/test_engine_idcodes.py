"""Resident IDs (GB 11643) and credit codes (GB 32100), checked against python-stdnum."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
from engine_oracle import inspect_resident_ids
from stdnum.cn import ric, uscc

from yiwang.governance.engine import idcodes
from yiwang.governance.engine.kernels.arrow import Strings
from yiwang.governance.engine.refdata import region_codes


def _inspect(values: pa.Array, *, region_codes: np.ndarray, today: dt.date) -> idcodes.ResidentIds:
    """The engine's ID check (one kernel pass), checked against the numpy oracle on the way."""
    got = idcodes.resident_ids(Strings(values), idcodes.region_bitmap(region_codes), (today - dt.date(1970, 1, 1)).days)
    want = inspect_resident_ids(values, region_codes=region_codes, today=today)
    ok = want.reason == 0
    assert (got.reason == want.reason).all()
    assert (got.birth_days[ok] == want.birth_days[ok]).all() and (got.male[ok] == want.male[ok]).all()
    assert (got.code[ok] == want.code[ok]).all()
    return got


TODAY = dt.date(2025, 6, 1)


def _random_ids(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    regions = ["320583", "110105", "440305", "320523"]
    out = []
    for _ in range(count):
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 30000))
        body = rng.choice(regions) + birth.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
        check = ric.calc_check_digit(body + "0")  # stdnum expects the check position present
        if rng.random() < 0.3:  # corrupt some
            check = "0123456789X"[("0123456789X".index(check) + rng.randrange(1, 11)) % 11]
        out.append(body + check)
    return out


def test_check_digit_agrees_with_stdnum():
    ids = _random_ids(3000, 1)
    info = _inspect(pa.array(ids), region_codes=region_codes(), today=TODAY)
    ours = info.reason == 0
    # stdnum also demands that the region code existed in the birth year (an ID keeps the code of
    # the year it was issued, so that is too strict); compare the check digit, the shared part.
    theirs = np.array([ric.calc_check_digit(i) == i[17] for i in ids])
    assert ours.sum() > 1500 and (~ours).sum() > 500
    assert (ours == theirs).all()
    assert set(info.reason_names()[~ours]) == {"check_digit"}


def test_reasons_birth_region_and_future():
    rc = region_codes()

    def one(body):
        return _inspect(
            pa.array([body + ric.calc_check_digit(body + "0")]), region_codes=rc, today=TODAY
        ).reason_names()[0]

    assert one("32058319900229123") == "birth_date"  # 1990 is not a leap year
    assert one("32058320300101123") == "future_birth_date"
    assert one("99999919900101123") == "region_code"
    assert one("32052319600101123") == "ok"  # historical Kunshan code
    assert _inspect(pa.array(["3205831990010112", "", None]), region_codes=rc, today=TODAY).reason_names().tolist() == [
        "format",
        "ok",
        "ok",
    ]


def test_current_codes_only_rejects_historical():
    body = "32052319600101123"
    code = body + ric.calc_check_digit(body + "0")  # stdnum expects the check position present
    assert not idcodes.is_valid_resident_id(code, region_codes=region_codes(include_historical=False), today=TODAY)
    assert idcodes.is_valid_resident_id(code, region_codes=region_codes(), today=TODAY)


def test_birth_dates_and_sex_digit():
    body = "11010519491231002"
    info = _inspect(pa.array([body + ric.calc_check_digit(body + "0")]), region_codes=region_codes(), today=TODAY)
    assert info.birth_days[0] == (dt.date(1949, 12, 31) - dt.date(1970, 1, 1)).days
    assert not info.male[0]  # 17th digit 2 → female


def _uscc(first: str, second: str, rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    org_body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in org_body]
    c9 = 11 - sum(v * w for v, w in zip(values, [3, 7, 9, 10, 5, 8, 4, 2])) % 11
    org = org_body + {10: "X", 11: "0"}.get(c9, str(c9))
    body = first + second + "320583" + org
    assert all(c in alphabet for c in body)
    return body + idcodes.uscc_check_character(body)


def test_uscc_agrees_with_stdnum_and_accepts_a_n_y():
    rng = random.Random(3)
    codes = [_uscc(rng.choice("159"), "1", rng) for _ in range(500)]
    assert all(uscc.is_valid(c) for c in codes)
    assert (idcodes.inspect_uscc(pa.array(codes)) == 0).all()
    special = [_uscc(first, "1", rng) for first in "ANY"]
    assert not any(uscc.is_valid(c) for c in special)  # stdnum's bug the wrapper fixes
    assert all(idcodes.is_valid_uscc(c) for c in special)
    assert idcodes.is_valid_uscc("91350100M000100Y43")


def test_uscc_reasons():
    rng = random.Random(4)
    good = _uscc("9", "1", rng)
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    bad_org = good[:16] + ("0" if good[16] != "0" else "1")
    bad_org = bad_org + idcodes.uscc_check_character(bad_org)
    bad_authority = "Z1" + good[2:17]
    reasons = idcodes.inspect_uscc(pa.array([good, bad_check, bad_org, "B1" + good[2:], "91320583I", ""]))
    names = [idcodes.USCC_REASONS[r] for r in reasons]
    assert names == ["ok", "check_character", "organisation_code", "registration_authority", "format", "ok"]
    assert not idcodes.is_valid_uscc(bad_authority)
