"""The Kunshan reference catalog: realistic entries, valid rules, codes after the guide."""

import re

from yiwang import catalog, org
from yiwang.catalog import codes
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance.engine.masking import default_mask
from yiwang.governance.engine.rules import ResourceRules

BASE_REGISTRIES = {
    "101": "population",
    "102": "enterprise",
    "103": "geo_basemap",
    "104": "public_credit",
    "105": "elicense_index",
}


def _published(db):
    rows, _n = catalog.list_resources(db, actor=SYSTEM_ACTOR, status="published", limit=500)
    return {r.name: catalog.get_resource(db, actor=SYSTEM_ACTOR, name=r.name) for r in rows}


def test_about_fifty_entries_with_base_registries_and_departments(db):
    entries = _published(db)
    assert len(entries) >= 40
    assert {e.code[:3] for e in entries.values()} >= set(BASE_REGISTRIES)
    for prefix, name in BASE_REGISTRIES.items():
        assert entries[name].code.startswith(prefix)
    assert len({e.provider.key for e in entries.values()}) >= 25
    for name in (
        "social_insurance",
        "real_estate",
        "housing_fund",
        "enterprise_registration",
        "admin_penalty",
        "road_transport_permit",
        "student_status",
        "medical_settlement",
    ):
        assert name in entries
    shares = {e.spec["share"]["type"] for e in entries.values()}
    assert shares == {"unconditional", "conditional", "none"}
    waiting = catalog.list_resources(db, actor=SYSTEM_ACTOR, status="submitted")[0]
    assert [r.name for r in waiting] == ["gas_accounts"]


def test_population_and_enterprise_have_the_declared_columns(db):
    population = catalog.get_resource(db, actor=SYSTEM_ACTOR, name="population")
    assert population.spec["title"] == "人口基础信息"
    assert [i["name"] for i in population.spec["items"]] == [
        "姓名",
        "公民身份号码",
        "性别",
        "出生日期",
        "民族",
        "联系电话",
        "户籍地址",
        "现住址",
        "所属社区代码",
    ]
    enterprise = catalog.get_resource(db, actor=SYSTEM_ACTOR, name="enterprise")
    assert enterprise.spec["title"] == "法人基础信息"
    assert [i["name"] for i in enterprise.spec["items"]] == [
        "企业名称",
        "统一社会信用代码",
        "法定代表人",
        "成立日期",
        "注册资本（万元）",
        "行业代码",
        "住所",
        "所属区镇代码",
    ]


def test_rules_validate_against_the_governance_engine_and_mask_personal_data(db):
    with_rules = {n: e for n, e in _published(db).items() if e.spec.get("rules")}
    assert {"population", "enterprise", "social_insurance", "real_estate", "housing_fund"} <= set(with_rules)
    for name, entry in with_rules.items():
        rules = ResourceRules.from_dict(catalog.resource_rules(db, name).rules)
        assert rules.column_names == [i["name"] for i in entry.spec["items"]], name
        for item in entry.spec["items"]:
            if item["personal"] and item["sensitivity"] in ("L3", "L4"):
                column = rules.column(item["name"])
                mask = column.mask or default_mask(column)
                assert mask.method != "keep", (name, item["name"])  # sensitive personal data is masked
    population = ResourceRules.from_dict(catalog.resource_rules(db, "population").rules)
    assert population.column("公民身份号码").mask.method == "keep_ends" and population.unique_keys == [["公民身份号码"]]


def test_codes_follow_the_guide(db):
    nodes = codes.classes(db)
    credit = {d.name: d.credit_code for d in org.list_departments(db)}
    for entry in _published(db).values():
        classification, provider_part = entry.code.split("/")
        assert classification == entry.spec["classification"] and nodes[classification].level == 3
        assert re.fullmatch(r"\d{9}-\d{4}|[0-9A-Z]{9}-\d{4}", provider_part)
        assert provider_part[:9] == credit[entry.provider.name][8:17]
        path = codes.path(nodes, classification)
        assert [n.level for n in path] == [1, 2, 3]
        if classification.startswith("3"):  # 部门信息资源: the class of the provider itself
            assert path[-1].name == entry.provider.name
