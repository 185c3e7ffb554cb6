"""Triage in service: classification at intake, location, duplicates, proposals, corrections, versions."""

import json
import uuid

import numpy as np
from ev_helpers import POINT
from sqlalchemy import select

from yiwang.core.audit import Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.events import triage_versions as triage_model
from yiwang.events.locate import locator
from yiwang.events.models import Case, Correction, ModelVersion


def _intake(client, key, text, **where):
    r = client.post(
        "/api/v1/events/intake",
        headers={"X-API-Key": key},
        json={"channel": "api", "source_ref": uuid.uuid4().hex, "description": text, **where},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_free_text_is_classified_located_and_registered(client, api_key, db, run_triage):
    cid = _intake(
        client,
        api_key,
        "喂，你好，我们亭林社区北门那个窨井盖不见了，一个大洞，晚上老人孩子很危险",
        address="亭林社区北门",
    )
    other = _intake(client, api_key, "我想问一下公积金怎么提取，需要什么材料", address="亭林社区")
    vague = _intake(client, api_key, "这边的问题一直没人管，太不像话了", address="那边路口")
    assert run_triage() >= 3
    case = db.get(Case, cid)
    assert (case.status, case.category_code, case.category_by) == ("registered", "100101", "triage")
    assert case.region_code == "320583100002" and case.triage_confidence > 0.5 and case.triage_version
    assert case.proposed_department_id is not None
    assert db.get(Case, other).needs_human and db.get(Case, other).category_code is None  # not a city case
    v = db.get(Case, vague)
    assert v.status == "accepted" and v.needs_human and v.region_code is None  # left for a dispatcher


def test_probable_duplicates_are_linked_not_double_dispatched(client, api_key, db, run_triage, bearer):
    near = {"lat": POINT["lat"] + 0.0002, "long": POINT["long"]}  # about 22 m north
    far = {"lat": POINT["lat"] + 0.002, "long": POINT["long"]}  # about 220 m
    first = _intake(client, api_key, "路边垃圾桶满了溢出来，臭气熏天", category_code="100305", **POINT)
    second = _intake(client, api_key, "垃圾箱满了没人清，垃圾都掉在地上", category_code="100305", **near)
    third = _intake(client, api_key, "垃圾箱满溢，周边脏乱", category_code="100305", **far)
    other_kind = _intake(client, api_key, "路灯不亮", category_code="100118", **near)
    run_triage()
    assert db.get(Case, second).duplicate_of_id == first and db.get(Case, second).needs_human
    assert db.get(Case, third).duplicate_of_id is None
    assert db.get(Case, other_kind).duplicate_of_id is None
    d = bearer("dispatcher")
    assert client.post(f"/api/v1/events/cases/{first}/dispatch", json={}, headers=d).status_code == 200
    refused = client.post(f"/api/v1/events/cases/{second}/register", json={}, headers=d)
    assert refused.status_code == 200
    refused = client.post(f"/api/v1/events/cases/{second}/dispatch", json={}, headers=d)
    assert refused.status_code == 409 and refused.json()["code"] == "probable_duplicate"
    number = client.get(f"/api/v1/events/cases/{first}", headers=d).json()["number"]
    merged = client.post(f"/api/v1/events/cases/{second}/merge", json={"into": number}, headers=d)
    assert merged.status_code == 200 and merged.json()["status"] == "merged"


def test_dispatch_rules_by_category_and_town(client, api_key, db, run_triage):
    from yiwang.events.queries import departments

    ids = {d.key: d.id for d in departments(db).values()}
    zhouzhuang = locator(db).point_of("320583401")  # 旅游度假区
    in_resort = _intake(
        client, api_key, "河道里漂着很多垃圾", category_code="200105", lat=zhouzhuang[1], long=zhouzhuang[0]
    )
    in_city = _intake(client, api_key, "河道里漂着很多垃圾", category_code="200105", **POINT)
    run_triage()
    assert db.get(Case, in_resort).proposed_department_id == ids["water"]
    assert db.get(Case, in_city).proposed_department_id == ids["water"]  # the category's default
    from yiwang.events.queries import propose

    assert propose(db, "200105", "320583401").assist_ids == (ids["culture_tourism"],)
    assert propose(db, "200105", "320583100").assist_ids == ()


def test_point_falls_into_grid_village_and_town(db):
    loc = locator(db)
    for grid in ("32058310000201", "32058340000101"):
        lng, lat = loc.point_of(grid)
        place = loc.locate(lng, lat)
        assert place.grid_code == grid and place.village_code == grid[:12] and place.town_code == grid[:9]
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(120.85, 121.10, 5000), rng.uniform(31.20, 31.50, 5000)
    towns, villages, grids = loc.locate_many(lons, lats)
    inside = towns != ""
    assert inside.mean() > 0.5
    assert all(
        g.startswith(v) and v.startswith(t)
        for t, v, g in zip(towns[inside], villages[inside], grids[inside], strict=True)
        if g
    )


def test_corrections_feed_a_new_model_version(db, settings, client, api_key, run_triage, bearer):
    cid = _intake(client, api_key, "门口一直有人摆摊卖菜", **POINT)
    run_triage()
    before = db.get(Case, cid).triage_version
    r = client.post(
        f"/api/v1/events/cases/{cid}/reclassify", json={"category_code": "200504"}, headers=bearer("dispatcher")
    )
    assert r.status_code == 200
    assert db.execute(select(Correction)).scalars().all()
    row = triage_model.train_version(
        db, settings.home_path, actor=SYSTEM_ACTOR, origin=Origin(ip="test"), per_category=60
    )
    metrics = json.loads(row.metrics)
    assert row.corrections >= 1 and metrics["corrections"] >= 1 and row.version != before
    assert (settings.home_path / "models" / "events-triage" / row.version / "model.npz").is_file()
    assert db.execute(select(ModelVersion).where(ModelVersion.active.is_(True))).scalar_one().version == row.version
    triage_model.forget_cache()
    clf = triage_model.active_classifier(db, settings.home_path)
    assert clf.version == row.version
    cid2 = _intake(client, api_key, "门口一直有人摆摊卖菜，占了人行道", **POINT)
    run_triage()
    assert db.get(Case, cid2).triage_version == row.version
    triage_model.forget_cache()


def test_cases_triaged_elsewhere_meanwhile_are_not_written_twice(client, api_key, db, settings, monkeypatch):
    """Triage reads and classifies without the writer lock; what another process triaged in the
    meantime is left as that process wrote it (no second timeline row, no second audit entry)."""
    from sqlalchemy import update

    from yiwang.core import db as coredb
    from yiwang.core.audit import AuditEntry
    from yiwang.events import pipeline
    from yiwang.events.models import Action

    ids = [_intake(client, api_key, f"小区门口下水道堵了，污水漫到路上 {n}", **POINT) for n in range(3)]
    real = coredb.start_writing

    def another_process_takes_one(session):
        real(session)
        session.execute(update(Case).where(Case.id == ids[1]).values(triage_status="done", status="merged"))

    monkeypatch.setattr(coredb, "start_writing", another_process_takes_one)
    assert pipeline.run_once(db, home=settings.home_path) == 2
    db.expire_all()
    assert [db.get(Case, i).status for i in ids] == ["registered", "merged", "registered"]
    triaged = db.execute(select(Action.case_id).where(Action.case_id.in_(ids), Action.action == "triage")).scalars()
    assert sorted(triaged) == [ids[0], ids[2]]
    audited = db.execute(
        select(AuditEntry.target_id).where(
            AuditEntry.action == "events.case.triage", AuditEntry.target_id.in_([str(i) for i in ids])
        )
    ).scalars()
    assert sorted(int(t) for t in audited) == [ids[0], ids[2]]
