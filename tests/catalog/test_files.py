"""Entry files: every bad input is named by file, line, field and rule; nothing is half-written."""

import pytest
import yaml
from sqlalchemy import func, select

from yiwang import catalog
from yiwang.catalog.models import CatalogEntry
from yiwang.catalog.problems import SpecInvalid
from yiwang.core import audit
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied

ORIGIN = Origin(ip="test")


def _yaml(*docs) -> str:
    return yaml.safe_dump_all(list(docs), allow_unicode=True, sort_keys=False)


def _apply(db, actor, text, source="entry.yaml", **kw):
    return catalog.apply_documents(
        db, actor=actor, docs=catalog.load_entry_file(text, source=source), origin=ORIGIN, **kw
    )


def _problems(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in exc.value.problems]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_good_file_creates_and_then_updates_the_entry(db, officer, spec):
    me = officer("public_security")
    text = _yaml(spec())
    [created] = _apply(db, me, text, submit=True)
    assert (created.action, created.status, created.revision) == ("created", "submitted", 1)
    assert _apply(db, me, text)[0].action == "unchanged"
    catalog.withdraw_resource(db, actor=me, name="community_volunteers", origin=ORIGIN)
    [updated] = _apply(db, me, _yaml(spec(title="社区志愿者服务登记信息")))
    assert (updated.action, updated.revision) == ("updated", 2)
    entry = catalog.get_resource(db, actor=me, name="community_volunteers", working=True)
    assert entry.spec["title"] == "社区志愿者服务登记信息"
    assert entry.spec["rules"]["resource"] == "community_volunteers"  # the rules belong to the entry


def test_malformed_yaml_names_the_line(db, officer):
    text = "name: broken\ntitle: 坏文件\nitems:\n  - {name: 姓名, type: string\n  - name: 性别\n"
    with pytest.raises(SpecInvalid) as exc:
        catalog.load_entry_file(text, source="broken.yaml")
    problem = exc.value.problems[0]
    assert problem.source == "broken.yaml" and problem.line == 5
    assert problem.message.startswith("YAML 格式错误：")


def test_unknown_field_and_wrong_enum_are_named_with_their_lines(db, officer, spec):
    doc = spec()
    doc["share"]["type"] = "sometimes"
    doc["items"][2]["sensitivity"] = "L5"
    doc["owner"] = "张三"
    text = _yaml(doc)
    with pytest.raises(SpecInvalid) as exc:
        _apply(db, officer("public_security"), text, source="vol.yaml")
    by_field = {p.field: p for p in exc.value.problems}
    assert set(by_field) == {"share.type", "items[2].sensitivity", "owner"}
    assert by_field["owner"].line == _line_of(text, "owner:")
    assert by_field["owner"].message.startswith("未知字段；可用字段：name, title,")
    assert by_field["share.type"].line == _line_of(text, "type: sometimes")
    assert "'unconditional'" in by_field["share.type"].message and "sometimes" in by_field["share.type"].message
    item = by_field["items[2].sensitivity"]
    assert item.line == _line_of(text, "sensitivity: L5") and item.label == "服务时长（小时）"
    assert str(item).startswith(f"vol.yaml:{item.line}: items[2] (服务时长（小时）).sensitivity: ")


def test_a_rule_that_does_not_validate_is_named(db, officer, spec, validator):
    doc = spec()
    doc["rules"]["columns"][1]["mask"] = {"method": "blur"}
    text = _yaml(doc)
    with pytest.raises(SpecInvalid) as exc:
        _apply(db, officer("public_security"), text, source="vol.yaml")
    [problem] = exc.value.problems
    assert problem.field == "rules.columns[1].mask.method"
    assert problem.line == _line_of(text, "method: blur")
    assert "blur" in problem.message


def test_rules_must_cover_exactly_the_items(db, officer, spec):
    doc = spec()
    doc["rules"]["columns"][2]["name"] = "时长"
    doc["rules"]["columns"][0]["dtype"] = "int"
    with pytest.raises(SpecInvalid) as exc:
        _apply(db, officer("public_security"), _yaml(doc))
    fields = {p.field: p.message for p in exc.value.problems}
    assert "时长" in fields["rules.columns[2].name"]
    assert "int" in fields["rules.columns[0].dtype"]
    assert "服务时长（小时）" in fields["rules.columns"]  # the item left without a rule


def test_cross_field_rules_of_the_entry(db, officer, spec):
    doc = spec(open={"type": "open"}, related=["no_such_entry"])
    doc["share"] = {"type": "none", "conditions": "", "methods": ["api"]}
    doc["items"].append({"name": "姓名", "type": "string"})
    doc["rules"] = None
    with pytest.raises(SpecInvalid) as exc:
        _apply(db, officer("public_security"), _yaml(doc))
    fields = {p.field for p in exc.value.problems}
    assert {"items[3].name", "share.conditions", "share.methods", "open.type", "related[0]"} <= fields


def test_duplicate_names_and_keys_and_aliases_are_refused(db, officer, spec):
    me = officer("public_security")
    text = _yaml(spec(), spec())
    with pytest.raises(SpecInvalid) as exc:
        _apply(db, me, text, source="two.yaml")
    second = [i for i, line in enumerate(text.splitlines(), 1) if line == "name: community_volunteers"][1]
    assert exc.value.problems[0].message == "community_volunteers 已在本文件第 1 行定义"
    assert exc.value.problems[0].line == second
    with pytest.raises(SpecInvalid) as exc:
        catalog.load_entry_file("name: a\ntitle: 一\ntitle: 二\n", source="dup.yaml")
    assert _problems(exc) == ["dup.yaml:3: title: 键 title 出现了两次"]
    bomb = "a: &a [x, x, x]\nb: [*a, *a, *a]\n"
    with pytest.raises(SpecInvalid) as exc:
        catalog.load_entry_file(bomb, source="bomb.yaml")
    assert exc.value.problems[0].line == 2 and "别名" in exc.value.problems[0].message


def test_oversized_and_non_utf8_files(db):
    with pytest.raises(SpecInvalid) as exc:
        catalog.load_entry_file(b"#" * 1_000_001, source="big.yaml")
    assert exc.value.problems[0].message == "文件超过 1000000 字节"
    with pytest.raises(SpecInvalid) as exc:
        catalog.load_entry_file("name: 人口".encode("gbk"), source="gbk.yaml")
    assert "UTF-8" in exc.value.problems[0].message


def test_an_entry_of_another_department_is_refused_with_its_line(db, officer, spec):
    market = officer("market_regulation")
    text = _yaml(
        spec(name="enterprise_copy", title="法人信息副本", provider="market_regulation"),
        spec(name="population", title="人口基础信息"),
    )
    with pytest.raises(AccessDenied) as exc:
        _apply(db, market, text, source="mixed.yaml")
    assert exc.value.code == "out_of_scope"
    assert exc.value.message.startswith(f"mixed.yaml:{_line_of(text, 'name: population')}: population")
    with pytest.raises(AccessDenied):  # a new entry for another department
        _apply(db, market, _yaml(spec()), source="other.yaml")


def test_nothing_is_half_written(db, officer, spec):
    me = officer("public_security")
    before = db.execute(select(func.count()).select_from(CatalogEntry)).scalar_one()
    ledger = audit.count(db)
    good = spec(name="volunteers_a", title="志愿者甲")
    bad = spec(name="volunteers_b", title="志愿者乙", update_cycle="sometimes")
    with pytest.raises(SpecInvalid) as exc:
        _apply(db, me, _yaml(good, bad), source="pair.yaml")
    assert [p.field for p in exc.value.problems] == ["update_cycle"]
    assert db.execute(select(func.count()).select_from(CatalogEntry)).scalar_one() == before
    assert audit.count(db) == ledger
