"""Draft → submitted → published, versions, change history, data scope and the audit ledger."""

import json
import re

import pytest
from sqlalchemy import select

from yiwang import catalog, org
from yiwang.catalog import queries
from yiwang.catalog.models import CatalogEntry, CatalogRules, CatalogVersion
from yiwang.catalog.problems import SpecInvalid
from yiwang.core import audit, bus
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Conflict, Invalid, NotFound

ORIGIN = Origin(ip="test")
NAME = "community_volunteers"


@pytest.fixture
def published(db, officer, bureau, spec):
    """The test entry, drafted by 市公安局 and published once by the bureau."""
    police = officer("public_security")
    catalog.create_resource(db, actor=police, data=spec(), origin=ORIGIN)
    catalog.submit_resource(db, actor=police, name=NAME, origin=ORIGIN)
    catalog.publish_resource(db, actor=bureau, name=NAME, origin=ORIGIN, note="首次发布")
    return police


def test_draft_is_visible_only_to_its_department(db, officer, town_worker, spec):
    police, market = officer("public_security"), officer("market_regulation")
    catalog.create_resource(db, actor=police, data=spec(), origin=ORIGIN)
    mine = catalog.get_resource(db, actor=police, name=NAME, working=True)
    assert (mine.status, mine.code, mine.version) == ("draft", None, None)
    for outsider in (market, town_worker):
        with pytest.raises(AccessDenied) as exc:
            catalog.get_resource(db, actor=outsider, name=NAME)
        assert exc.value.code == "out_of_scope"
        names = {r.name for r in catalog.list_resources(db, actor=outsider, q="志愿者", limit=500)[0]}
        assert NAME not in names
    assert NAME in {r.name for r in catalog.list_resources(db, actor=police, q="志愿者")[0]}
    # The traffic police (a sub-department) is inside 市公安局's scope, not the other way round.
    assert catalog.get_resource(db, actor=police, name="vehicle_violations", working=True).status == "published"


def test_publish_gives_code_version_and_history(db, published, bureau, officer):
    entry = catalog.get_resource(db, actor=officer("market_regulation"), name=NAME)
    dept = org.get_department_by_key(db, "public_security")
    assert re.fullmatch(r"210001/\d{9}-\d{4}", entry.code)
    assert entry.code.split("/")[1].startswith(dept.credit_code[8:17])  # provider code = organisation code
    assert (entry.version, entry.status, entry.rules_version) == (1, "published", 1)
    assert entry.spec["publish_date"]  # set at first publication
    history = queries.history(db, actor=published, name=NAME)
    assert [h.action for h in history] == ["publish", "submit", "create"]
    assert history[0].note == "首次发布" and any(d["field"] == "title" for d in history[0].diff)
    actions = {e.action for e in audit.search(db, audit.AuditFilter(target_id=NAME), limit=10)}
    assert {"catalog.create", "catalog.submit", "catalog.publish"} <= actions


def test_editing_a_published_entry_keeps_the_published_version_for_others(db, published, bureau, officer, spec):
    police, market = published, officer("market_regulation")
    doc = spec(title="社区志愿者服务信息")
    doc["items"][2]["sensitivity"] = "L2"
    catalog.update_resource(db, actor=police, name=NAME, data=doc, origin=ORIGIN, expected_revision=1)
    assert catalog.get_resource(db, actor=market, name=NAME).spec["title"] == "社区志愿者登记信息"
    assert catalog.get_resource(db, actor=police, name=NAME, working=True).status == "draft"
    hits = {r.name: r for r in catalog.list_resources(db, actor=market, q="志愿者")[0]}
    assert hits[NAME].title == "社区志愿者登记信息" and hits[NAME].status == "published"
    assert NAME not in {r.name for r in catalog.list_resources(db, actor=market, q="服务信息")[0]}  # draft words
    update = queries.history(db, actor=police, name=NAME)[0]
    assert {"field": "items[服务时长（小时）].sensitivity", "old": "L1", "new": "L2"} in update.diff

    catalog.submit_resource(db, actor=police, name=NAME, origin=ORIGIN)
    version = catalog.publish_resource(db, actor=bureau, name=NAME, origin=ORIGIN)
    assert version.number == 2 and version.rules_version == 1  # same rules, same rules version
    assert catalog.get_resource(db, actor=market, name=NAME).spec["title"] == "社区志愿者服务信息"
    assert catalog.get_resource(db, actor=market, name=NAME, version=1).spec["title"] == "社区志愿者登记信息"
    first = db.execute(
        select(CatalogVersion.spec).where(CatalogVersion.number == 1, CatalogVersion.title == "社区志愿者登记信息")
    ).scalar_one()
    assert json.loads(first)["items"][2]["sensitivity"] == "L1"  # the snapshot did not move


def test_rules_get_a_new_version_only_when_they_change(db, published, bureau, spec):
    police = published
    doc = spec()
    doc["rules"]["columns"][2]["max"] = 10000
    catalog.update_resource(db, actor=police, name=NAME, data=doc, origin=ORIGIN)
    catalog.submit_resource(db, actor=police, name=NAME, origin=ORIGIN)
    assert catalog.publish_resource(db, actor=bureau, name=NAME, origin=ORIGIN).rules_version == 2
    rules = catalog.resource_rules(db, NAME)
    assert rules.version == 2 and rules.rules["version"] == "2" and rules.rules["resource"] == NAME
    assert rules.rules["columns"][2]["max"] == 10000 and rules.rules["update_cycle"] == "monthly"
    assert "max" not in catalog.resource_rules(db, NAME, version=1).rules["columns"][2]
    entry_id = db.execute(select(CatalogEntry.id).where(CatalogEntry.name == NAME)).scalar_one()
    assert db.execute(select(CatalogRules.version).where(CatalogRules.entry_id == entry_id)).scalars().all() == [1, 2]
    with pytest.raises(NotFound):
        catalog.resource_rules(db, NAME, version=7)


def test_publication_is_announced_on_the_bus(db, officer, bureau, spec):
    heard = []
    bus.subscribe(catalog.ResourcePublished, heard.append)
    try:
        police = officer("public_security")
        catalog.create_resource(db, actor=police, data=spec(), origin=ORIGIN)
        catalog.submit_resource(db, actor=police, name=NAME, origin=ORIGIN)
        catalog.publish_resource(db, actor=bureau, name=NAME, origin=ORIGIN)
    finally:
        bus.unsubscribe(catalog.ResourcePublished, heard.append)
    assert heard == [catalog.ResourcePublished(name=NAME, version=1, rules_version=1)]


def test_review_rules(db, officer, bureau, spec):
    police = officer("public_security")
    catalog.create_resource(db, actor=police, data=spec(), origin=ORIGIN)
    with pytest.raises(Conflict):  # a draft is not published without being submitted
        catalog.publish_resource(db, actor=bureau, name=NAME, origin=ORIGIN)
    catalog.submit_resource(db, actor=police, name=NAME, origin=ORIGIN)
    with pytest.raises(AccessDenied):  # officers do not publish
        catalog.publish_resource(db, actor=police, name=NAME, origin=ORIGIN)
    with pytest.raises(Conflict):  # no edits while under review
        catalog.update_resource(db, actor=police, name=NAME, data=spec(title="改名"), origin=ORIGIN)
    with pytest.raises(Invalid) as exc:
        catalog.reject_resource(db, actor=bureau, name=NAME, reason="不", origin=ORIGIN)
    assert exc.value.detail["field"] == "reason"
    catalog.reject_resource(db, actor=bureau, name=NAME, reason="共享条件过于宽泛，请补充依据。", origin=ORIGIN)
    returned = catalog.get_resource(db, actor=police, name=NAME, working=True)
    assert returned.status == "rejected" and returned.review_note == "共享条件过于宽泛，请补充依据。"
    catalog.update_resource(db, actor=police, name=NAME, data=spec(title="社区志愿者登记信息（修订）"), origin=ORIGIN)
    assert catalog.get_resource(db, actor=police, name=NAME, working=True).status == "draft"


def test_only_the_own_department_edits(db, published, officer, spec):
    market = officer("market_regulation")
    with pytest.raises(AccessDenied) as exc:
        catalog.update_resource(db, actor=market, name=NAME, data=spec(), origin=ORIGIN)
    assert exc.value.code == "out_of_scope" and "昆山市公安局" in exc.value.message
    with pytest.raises(AccessDenied):
        catalog.submit_resource(db, actor=market, name=NAME, origin=ORIGIN)
    with pytest.raises(AccessDenied):
        catalog.create_resource(db, actor=market, data=spec(name="other_volunteers", title="其他"), origin=ORIGIN)


def test_a_stale_form_does_not_overwrite_a_newer_save(db, published, spec):
    catalog.update_resource(
        db, actor=published, name=NAME, data=spec(title="甲的修改"), origin=ORIGIN, expected_revision=1
    )
    with pytest.raises(Conflict) as exc:
        catalog.update_resource(
            db, actor=published, name=NAME, data=spec(title="乙的修改"), origin=ORIGIN, expected_revision=1
        )
    assert exc.value.detail["field"] == "revision"
    assert catalog.get_resource(db, actor=published, name=NAME, working=True).spec["title"] == "甲的修改"


def test_fixed_fields_and_database_checks(db, published, spec):
    with pytest.raises(SpecInvalid) as exc:
        catalog.update_resource(
            db, actor=published, name=NAME, origin=ORIGIN, data=spec(classification="101001", provider="traffic_police")
        )
    fields = {p.field for p in exc.value.problems}
    assert fields == {"classification", "provider"}
    with pytest.raises(SpecInvalid) as exc:
        catalog.create_resource(
            db,
            actor=published,
            origin=ORIGIN,
            data=spec(name="volunteers_2", classification="307027", title="志愿者二"),
        )
    assert exc.value.problems[0].message == "“昆山市市场监督管理局”是其他部门资源的分类"
    with pytest.raises(SpecInvalid) as exc:
        catalog.create_resource(db, actor=published, origin=ORIGIN, data=spec(name="volunteers_3"))
    assert exc.value.problems[0].field == "title"  # same title, same department
