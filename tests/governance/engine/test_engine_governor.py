"""Validation through the Governor: named rules, all failures, originals, nothing dropped."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from stdnum.cn import ric

from yiwang.governance.engine.governor import Governor
from yiwang.governance.engine.rules import ResourceRules

TODAY = dt.date(2025, 6, 1)


def _id(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


GOOD = _id("32058319900101123")  # male (17th digit 3), born 1990-01-01
OTHER = _id("32058319851231002")  # female, born 1985-12-31


@pytest.fixture
def rules():
    return ResourceRules.model_validate(
        {
            "resource": "测试",
            "columns": [
                {"name": "姓名", "kind": "person_name", "required": True},
                {"name": "身份证", "kind": "resident_id", "required": True},
                {"name": "性别", "kind": "gender"},
                {"name": "出生日期", "kind": "date"},
                {"name": "电话", "kind": "mobile"},
                {"name": "社区", "kind": "division_code", "allowed_codes": ["320583100001"]},
                {"name": "人数", "dtype": "int", "kind": "number", "min": 0, "max": 10},
                {"name": "类别", "kind": "enum", "enum": ["甲", "乙"]},
                {"name": "信用代码", "kind": "uscc"},
            ],
            "unique_keys": [["身份证"]],
            "cross_field": [
                {"rule": "id_birthdate_match", "columns": ["身份证", "出生日期"]},
                {"rule": "id_gender_match", "columns": ["身份证", "性别"]},
            ],
        }
    )


def _batch(rows: list[dict], start_line: int = 2) -> pa.RecordBatch:
    names = ["姓名", "身份证", "性别", "出生日期", "电话", "社区", "人数", "类别", "信用代码"]
    cols = {n: pa.array([r.get(n, "") for r in rows], pa.string()) for n in names}
    cols["_line"] = pa.array(range(start_line, start_line + len(rows)), pa.int64())
    return pa.RecordBatch.from_pydict(cols)


def _row(**over):
    base = {
        "姓名": "张三",
        "身份证": GOOD,
        "性别": "男",
        "出生日期": "1990-01-01",
        "电话": "13812345678",
        "社区": "320583100001",
        "人数": "3",
        "类别": "甲",
        "信用代码": "",
    }
    return base | over


def test_each_rule_by_name(rules):
    g = Governor(rules, today=TODAY, mask=False)
    cases = {
        "required": _row(姓名=""),
        "resident_id": _row(身份证=GOOD[:17] + ("0" if GOOD[17] != "0" else "1")),
        "gender": _row(性别="未知"),
        "date": _row(出生日期="1990-13-01"),
        "mobile": _row(电话="12812345678"),
        "division_code": _row(社区="320583100002"),
        "type": _row(人数="三"),
        "range": _row(人数="11"),
        "enum": _row(类别="丙"),
        "uscc": _row(信用代码="91350100M000100Y44"),
        "id_birthdate_match": _row(出生日期="1990-01-02"),
        "id_gender_match": _row(性别="女"),
        "person_name": _row(姓名="张3"),
    }
    for k, case in enumerate(cases.values()):  # distinct IDs, so only the named rule fails
        if case["身份证"] == GOOD:
            case["身份证"] = _id(f"32058319900101{k + 20:02d}3")
    result = g.process(_batch([_row(), *cases.values()]))
    assert result.clean.num_rows == 1
    q = result.quarantine.to_pylist()
    assert [r["_rule"] for r in q] == list(cases)
    assert [len(r["_failures"]) for r in q] == [1] * len(q), [
        (r["_rule"], r["_failures"]) for r in q if len(r["_failures"]) != 1
    ]
    assert q[0]["_column"] == "姓名" and q[0]["_value"] == "" and q[0]["_line"] == 3
    assert q[1]["_reason"] == "check_digit"


def test_all_failures_and_original_values_are_kept(rules):
    g = Governor(rules, today=TODAY, mask=False)
    result = g.process(_batch([_row(电话=" 123 ", 类别="丙", 人数="99")]))
    (row,) = result.quarantine.to_pylist()
    assert [(f["rule"], f["column"], f["value"]) for f in row["_failures"]] == [
        ("mobile", "电话", " 123 "),
        ("range", "人数", "99"),
        ("enum", "类别", "丙"),
    ]
    assert row["电话"] == " 123 "  # as received, for staff to fix and resubmit
    assert result.by_rule == {"mobile": 1, "range": 1, "enum": 1}
    assert result.by_first_rule == {"mobile": 1}


def test_cross_field_rules_skip_cells_that_are_already_wrong(rules):
    g = Governor(rules, today=TODAY, mask=False)
    result = g.process(_batch([_row(出生日期="不详", 性别="女")]))
    rules_hit = {f["rule"] for f in result.quarantine.to_pylist()[0]["_failures"]}
    assert rules_hit == {"date", "id_gender_match"}


def test_uniqueness_across_batches_keeps_the_first_valid_row(rules):
    g = Governor(rules, today=TODAY, mask=False)
    first = g.process(_batch([_row(姓名=""), _row(), _row(), _row(身份证=OTHER, 性别="女", 出生日期="1985-12-31")]))
    assert [r["_rule"] for r in first.quarantine.to_pylist()] == ["required", "unique"]
    assert first.clean.column("_line").to_pylist() == [3, 5]
    second = g.process(_batch([_row(身份证=GOOD.lower()), _row(身份证=OTHER, 性别="女", 出生日期="1985/12/31")], 10))
    assert [r["_rule"] for r in second.quarantine.to_pylist()] == ["unique", "unique"]
    assert second.clean.num_rows == 0


def test_clean_rows_are_typed_and_normalised(rules):
    g = Governor(rules, today=TODAY, mask=False)
    result = g.process(_batch([_row(出生日期="1990年1月1日", 性别="M", 电话="+86 138-1234-5678", 人数="１０")]))
    clean = result.clean.to_pylist()[0]
    assert clean["出生日期"] == dt.date(1990, 1, 1) and clean["人数"] == 10
    assert (clean["性别"], clean["电话"]) == ("男", "13812345678")
    assert result.clean.schema.field("人数").type == pa.int64()


def test_quality_counts(rules):
    g = Governor(rules, today=TODAY, mask=False)
    g.process(_batch([_row(), _row(电话=""), _row(电话="1"), _row()]))
    report = g.quality.report(update_cycle="irregular", as_of=TODAY, has_unique=True, has_cross=True)
    phone = report.columns["电话"]
    assert (phone["filled"], phone["invalid"]) == (3, 1)
    assert report.uniqueness == pytest.approx(1 - 3 / 4)  # every later row repeats the first ID
    assert report.timeliness is None and 0 < report.overall < 1


def test_every_kind_and_cross_rule_has_an_implementation():
    """A kind or cross-field rule the engine cannot check is refused when the load is set up,
    never skipped (nor, for a cross-field rule, run as some other rule)."""
    from typing import get_args

    from yiwang.governance.engine.fastpath import CROSS_CHECKS, KIND_CHECKS
    from yiwang.governance.engine.rules import ColumnRule, CrossFieldRule, CrossRule, Kind

    assert set(KIND_CHECKS) == set(get_args(Kind))
    assert set(CROSS_CHECKS) == set(get_args(CrossRule))
    odd = ResourceRules.model_construct(
        resource="t",
        columns=[
            ColumnRule.model_construct(
                name="a",
                dtype="string",
                kind="iban",
                required=False,
                enum=None,
                pattern=None,
                min=None,
                max=None,
                min_length=None,
                max_length=None,
                allowed_codes=None,
                code_levels=None,
                mask=None,
                extra_masks={},
            )
        ],
        unique_keys=[],
        cross_field=[],
        quasi_identifiers=[],
        freshness_column=None,
    )
    with pytest.raises(ValueError, match="kind 'iban' has no check"):
        Governor(odd, today=TODAY)
    cross = ResourceRules.model_validate({"resource": "t", "columns": [{"name": "a"}, {"name": "b"}]})
    cross.cross_field.append(CrossFieldRule.model_construct(rule="same_month", columns=["a", "b"]))
    with pytest.raises(ValueError, match="'same_month' has no implementation"):
        Governor(cross, today=TODAY)
    with pytest.raises(ValueError, match="first column must be a resident_id"):
        Governor(
            ResourceRules.model_validate(
                {
                    "resource": "t",
                    "columns": [{"name": "a"}, {"name": "b", "kind": "gender"}],
                    "cross_field": [{"rule": "id_gender_match", "columns": ["a", "b"]}],
                }
            )
        )


def test_not_after_and_required_with_are_what_they_say():
    rules = ResourceRules.model_validate(
        {
            "resource": "t",
            "columns": [
                {"name": "from", "dtype": "date"},
                {"name": "to", "dtype": "date"},
                {"name": "x"},
                {"name": "y"},
            ],
            "cross_field": [
                {"rule": "not_after", "columns": ["from", "to"]},
                {"rule": "not_before", "columns": ["to", "from"]},
                {"rule": "required_with", "columns": ["x", "y"]},
            ],
        }
    )
    batch = pa.record_batch(
        {
            "from": ["2024-01-02", "2024-01-01", "2024-01-01"],
            "to": ["2024-01-01", "2024-01-02", ""],
            "x": ["1", "", "1"],
            "y": ["", "", "2"],
            "_line": pa.array([2, 3, 4], pa.int64()),
        }
    )
    got = Governor(rules, today=TODAY).process(batch)
    assert got.quarantine.column("_line").to_pylist() == [2]
    assert [f["rule"] for f in got.quarantine.column("_failures").to_pylist()[0]] == [
        "not_after",
        "not_before",
        "required_with",
    ]
