"""Case taxonomy: required categories, valid departments, sane SLAs."""

import csv
from datetime import datetime

import pytest

from yiwang.events.triage.taxonomy import DATA_DIR, load_taxonomy, parse_category
from yiwang.events.workcal import SHANGHAI, TimeUnit, WorkCalendar

REQUIRED = [
    "暴露垃圾",
    "积存垃圾渣土",
    "道路不洁",
    "水域不洁",
    "绿地脏乱",
    "乱堆物堆料",
    "乱吊挂晾晒",
    "私搭乱建",
    "露天焚烧",
    "餐饮油烟",
    "非法小广告",
    "违规户外广告",
    "施工扰民",
    "道路遗撒",
    "工地扬尘",
    "施工占道",
    "路面塌陷",
    "自来水管破裂",
    "燃气泄漏",
    "下水道堵塞",
    "道路积水",
    "无照经营游商",
    "店外经营",
    "机动车乱停放",
    "非机动车乱停放",
    "露天烧烤",
    "噪声扰民",
    "井盖破损丢失",
    "路灯故障",
    "消防栓损坏",
    "交通信号灯故障",
    "交通标志牌损坏",
    "道路护栏损坏",
    "道路破损",
    "公交站亭损坏",
    "行道树倒伏",
    "绿地损坏",
    "垃圾箱满溢破损",
    "公共厕所问题",
]


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


def test_all_required_minor_classes_are_present(taxonomy):
    names = {c.name for c in taxonomy}
    assert len(REQUIRED) == 39
    assert not set(REQUIRED) - names


def test_departments_exist_in_the_city_pack(taxonomy):
    with (DATA_DIR / "departments.csv").open(encoding="utf-8") as fh:
        keys = {row["key"] for row in csv.DictReader(fh)}
    assert {c.department_key for c in taxonomy} <= keys


def test_both_kinds_and_their_major_classes(taxonomy):
    majors = taxonomy.majors()
    assert {kind for kind, _ in majors} == {"部件", "事件"}
    assert majors[("事件", "04")] == "突发事件"
    assert all(c.component for c in taxonomy if c.kind == "部件")


def test_emergencies_run_on_natural_hours_and_are_urgent(taxonomy):
    for name in ("燃气泄漏", "路面塌陷", "自来水管破裂", "井盖破损丢失"):
        category = taxonomy.by_name(name)
        assert category.is_emergency
        assert category.response.unit is TimeUnit.NATURAL_HOURS
        assert category.priority == 1 and category.priority_label == "紧急"
    assert not taxonomy.by_name("私搭乱建").is_emergency


def test_response_is_never_slower_than_handling(taxonomy):
    cal, start = WorkCalendar(), datetime(2025, 11, 3, 10, 0, tzinfo=SHANGHAI)
    for c in taxonomy:
        assert cal.add(start, c.response) <= cal.add(start, c.handling), c.name


def test_lookup_by_code_and_coverage(taxonomy):
    garbage = taxonomy.by_name("暴露垃圾")
    assert taxonomy.by_code(garbage.code) is garbage
    assert garbage.code == "2" + "0" + garbage.minor_code
    assert taxonomy.catalog_coverage(set()) == 0
    assert taxonomy.catalog_coverage({c.code for c in taxonomy}) == 1
    assert taxonomy.catalog_coverage({garbage.code}) == pytest.approx(1 / len(taxonomy))


def test_malformed_rows_are_rejected():
    row = {
        "code": "200102",
        "kind": "事件",
        "major_code": "01",
        "major_name": "市容环境",
        "minor_code": "0102",
        "name": "暴露垃圾",
        "component": "",
        "department_key": "x",
        "response_value": "1",
        "response_unit": "working_hours",
        "handle_value": "2",
        "handle_unit": "working_hours",
        "priority": "3",
        "in_city_catalog": "true",
    }
    assert parse_category(row).name == "暴露垃圾"
    for key, bad in (
        ("code", "100102"),
        ("minor_code", "0202"),
        ("kind", "其他"),
        ("priority", "7"),
        ("handle_unit", "fortnights"),
    ):
        with pytest.raises(ValueError):
            parse_category({**row, key: bad})
