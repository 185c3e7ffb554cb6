"""Normalisation turns honest variants into one canonical form."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pyarrow as pa

from yiwang.governance.engine.fastpath import CleanRows, FastPath
from yiwang.governance.engine.normalise import TYPED_SUFFIX
from yiwang.governance.engine.refdata import region_codes
from yiwang.governance.engine.rules import ColumnRule, ResourceRules


def _norm(kind: str, values: list, dtype: str = "string") -> pl.DataFrame:
    """The engine's normalised (and typed) column, as ``BatchResult.clean_frame`` shows it."""
    rule = ColumnRule(name="c", kind=kind, dtype=dtype)
    fast = FastPath(ResourceRules(resource="t", columns=[rule]), today=dt.date(2025, 6, 1), region_codes=region_codes())
    col = fast.column(rule, pa.array(values, pa.string()))
    return CleanRows({"c": col}, np.arange(len(values)), pa.array(range(len(values)), pa.int64())).frame()


def test_fullwidth_trim_and_id_case():
    out = _norm(
        "resident_id", ["３２０５８３１９９００１０１１２３ｘ", " 32058319900101123x\u3000", "320583-1990-0101-1234"]
    )
    assert out["c"].to_list() == ["32058319900101123X", "32058319900101123X", "320583199001011234"]


def test_dates_in_every_spelling():
    values = [
        "2001-03-05",
        "2001/3/5",
        "2001年3月5日",
        "20010305",
        "2001.03.05",
        "36955",
        "2001-03-05 00:00:00",
        "2001-02-30",
        "1990",
        "",
    ]
    out = _norm("date", values, "date")[f"c{TYPED_SUFFIX}"].to_list()
    assert out[:7] == [dt.date(2001, 3, 5)] * 7  # 36955 is Excel's serial for 2001-03-05
    assert out[7:] == [None, None, None]


def test_phones_lose_country_code_and_separators():
    out = _norm(
        "phone",
        [
            "+86 138-1234-5678",
            "0086 13812345678",
            "8613812345678",
            "0512-5751 2345",
            "(0512)57512345",
            "１３８１２３４５６７８",
        ],
    )
    assert out["c"].to_list() == [
        "13812345678",
        "13812345678",
        "13812345678",
        "051257512345",
        "051257512345",
        "13812345678",
    ]


def test_gender_and_ethnic_group():
    assert _norm("gender", ["男", "M", "f", "1", "2", "女性", "未知"])["c"].to_list() == [
        "男",
        "男",
        "女",
        "男",
        "女",
        "女",
        "未知",
    ]
    assert _norm("ethnic_group", ["汉", "汉族", "维吾尔", "火星"])["c"].to_list() == [
        "汉族",
        "汉族",
        "维吾尔族",
        "火星",
    ]


def test_names_and_numbers():
    assert _norm("person_name", [" 张 三 ", "阿依古丽•买买提"])["c"].to_list() == ["张三", "阿依古丽·买买提"]
    out = _norm("number", ["1,234", " 5 ", "x"], "int")
    assert out[f"c{TYPED_SUFFIX}"].to_list() == [1234, 5, None]
    assert _norm("text", ["是", "否", "TRUE", "maybe"], "bool")[f"c{TYPED_SUFFIX}"].to_list() == [
        True,
        False,
        True,
        None,
    ]
