"""Masks, keyed pseudonyms (equal to HMAC-SM3), SM4 round trips and k-anonymity."""

from __future__ import annotations

import datetime as dt
import os

import polars as pl
import pyarrow as pa
import pytest
from engine_oracle import truncate_address

from yiwang.core.crypto import hmac_sm3
from yiwang.governance.engine import smcrypto
from yiwang.governance.engine.masking import age_band, k_anonymity, keep_ends, surname
from yiwang.governance.engine.rules import AddressMask, AgeBandMask


def _apply(expr, values):
    return pl.DataFrame({"v": values}).select(expr).to_series().to_list()


def test_keep_ends_and_surnames():
    v = pl.col("v")
    assert _apply(keep_ends(v, 6, 4), ["32058319900101123X", "123"]) == ["320583********123X", "***"]
    assert _apply(keep_ends(v, 3, 4), ["13812345678"]) == ["138****5678"]
    assert _apply(surname(v), ["张三丰", "欧阳娜娜", "司马光", "欧阳", "李"]) == [
        "张**",
        "欧阳**",
        "司马*",
        "欧*",
        "李",
    ]


def _truncate(col: pl.Series, policy: AddressMask) -> list:
    """The engine's address mask (a Governor's share zone), equal to the oracle's."""
    from yiwang.governance.engine.governor import Governor
    from yiwang.governance.engine.rules import ResourceRules

    rules = ResourceRules.model_validate(
        {"resource": "t", "columns": [{"name": "a", "kind": "address", "mask": policy.model_dump(exclude_none=True)}]}
    )
    batch = pa.record_batch({"a": col.to_arrow(), "_line": pa.array(range(len(col)), pa.int64())})
    got = Governor(rules).process(batch).share.column("a").to_pylist()
    assert got == truncate_address(col, policy).to_list()
    return got


def test_address_levels():
    col = pl.Series(
        [
            "江苏省苏州市昆山市玉山镇亭林社区人民路1号",
            "江苏省苏州市昆山市巴城镇石牌村委会3组",
            "河北省张家口市宣化区盛路283号",
        ]
    )
    assert _truncate(col, AddressMask()) == [
        "江苏省苏州市昆山市玉山镇亭林社区",
        "江苏省苏州市昆山市巴城镇石牌村委会",
        None,
    ]
    assert _truncate(col, AddressMask(level="town", fallback="keep_county")) == [
        "江苏省苏州市昆山市玉山镇",
        "江苏省苏州市昆山市巴城镇",
        "河北省张家口市宣化区",
    ]
    assert _truncate(col, AddressMask(keywords=["人民路"]))[0] == "江苏省苏州市昆山市玉山镇亭林社区人民路"


def test_age_bands():
    births = [dt.date(1990, 6, 2), dt.date(1990, 6, 1), dt.date(1930, 1, 1), dt.date(2030, 1, 1)]
    out = _apply(age_band(pl.col("v"), AgeBandMask(width=10, top=80), dt.date(2025, 6, 1)), births)
    assert out == ["30-39", "30-39", "80+", None]
    out = _apply(age_band(pl.col("v"), AgeBandMask(width=5, top=80), dt.date(2025, 6, 1)), births[:2])
    assert out == ["30-34", "35-39"]  # one day before / on the 35th birthday


@pytest.mark.parametrize("key", [b"k" * 16, b"short", os.urandom(100)])
def test_pseudonyms_equal_reference_hmac_sm3(key):
    values = [
        "32058319900101123X",
        "张三",
        "",
        None,
        "x" * 55,
        "y" * 56,
        "江苏省苏州市昆山市玉山镇亭林社区人民路1号" * 3,
    ]
    out = smcrypto.pseudonymise(pa.array(values), key).to_pylist()
    expected = [None if v is None else hmac_sm3(key, v.encode()).hex() for v in values]
    assert out == expected
    short = smcrypto.pseudonymise(pa.array(values), key, length=32).to_pylist()
    assert short[0] == expected[0][:32]


def test_pseudonyms_are_deterministic_per_key():
    values = pa.array([f"3205831990{i:08d}" for i in range(70_000)])  # more than one vectorised chunk
    a = smcrypto.pseudonymise(values, b"a" * 16)
    assert a.equals(smcrypto.pseudonymise(values, b"a" * 16))
    assert a[69_999].as_py() == hmac_sm3(b"a" * 16, values[69_999].as_py().encode()).hex()
    assert not a.equals(smcrypto.pseudonymise(values, b"b" * 16))


def test_sm4_round_trip_and_fresh_nonces():
    key = os.urandom(16)
    values = pa.array(["32058319900101123X", "32058319900101123X", "", None, "江苏省苏州市昆山市" * 5])
    sealed = smcrypto.sm4_encrypt_column(values, key)
    assert sealed[0].as_py() != sealed[1].as_py()  # same value, different nonce
    assert sealed[3].as_py() is None
    assert smcrypto.sm4_decrypt_column(sealed, key).to_pylist() == values.to_pylist()
    with pytest.raises(ValueError, match="wrong key"):
        smcrypto.sm4_decrypt_column(sealed.slice(4), os.urandom(16))  # CTR has no tag: text check catches it


def test_k_anonymity_streams_over_batches():
    rows = [("男", "1990"), ("男", "1990"), ("女", "1990"), ("女", "1991"), ("女", "1991"), ("女", "1991")]
    table = pa.table({"性别": [r[0] for r in rows], "年": [r[1] for r in rows]})
    report = k_anonymity(table.to_batches(max_chunksize=2), ["性别", "年"], k=2)
    assert (report.k, report.classes, report.rows) == (1, 3, 6)
    assert (report.classes_below, report.rows_below) == (1, 1)
    assert not report.satisfied
    assert report.smallest[0] == {"性别": "女", "年": "1990", "len": 1}


def test_address_keywords_must_fit_the_kernel():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at most 64 distinct"):
        AddressMask(keywords=["社区", ""])
    with pytest.raises(ValidationError, match="at most 64 distinct"):
        AddressMask(keywords=[f"{i}号楼" for i in range(65)])
    assert AddressMask(keywords=[f"{i}号楼" for i in range(64)]).keywords
