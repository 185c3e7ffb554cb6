"""History and time travel over the zone tables, through the API and the pages."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import quote

from lake_helpers import people, volunteers_csv

from yiwang import lake
from yiwang.core.audit import Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file


def test_as_of_reads_the_table_as_it_was(lake_install, lake_factory, tmp_path, signed_in):
    first = ingest_file(
        lake_factory,
        settings=lake_install,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "a.csv", people(5)),
        mode="replace",
        origin=Origin("t"),
    )
    time.sleep(0.05)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    second = ingest_file(
        lake_factory,
        settings=lake_install,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "b.csv", people(7, start=100)),
        mode="replace",
        origin=Origin("t"),
    )
    c = signed_in("officer")
    now = c.get("/api/v1/lake/tables/share.volunteers?limit=100").json()
    assert now["snapshot_id"] == second.snapshots["share.volunteers"] and len(now["rows"]) == 7
    then = c.get("/api/v1/lake/tables/share.volunteers", params={"as_of": between.isoformat(), "limit": 100}).json()
    assert then["snapshot_id"] == first.snapshots["share.volunteers"] and len(then["rows"]) == then["total_rows"] == 5
    before = c.get("/api/v1/lake/tables/share.volunteers?as_of=2000-01-01").json()
    assert before["snapshot_id"] is None and before["rows"] == []
    pinned = c.get(f"/api/v1/lake/tables/share.volunteers?snapshot_id={first.snapshots['share.volunteers']}").json()
    assert len(pinned["rows"]) == 5 and not pinned["personal"]
    assert c.get("/api/v1/lake/tables/share.volunteers?as_of=next+week").status_code == 422
    assert c.get("/api/v1/lake/tables/gold.volunteers").status_code == 422
    history = c.get("/api/v1/lake/resources/volunteers/history").json()
    ids = [s["snapshot_id"] for s in history["share"]]
    assert ids[0] == second.snapshots["share.volunteers"] and first.snapshots["share.volunteers"] in ids
    assert {s["load_id"] for s in history["clean"]} >= {first.id, second.id}


def test_personal_zones_need_a_reason_and_are_audited(lake_install, lake_factory, signed_in):
    from sqlalchemy import select

    from yiwang.core.audit import AuditEntry

    c = signed_in("officer")
    assert c.get("/api/v1/lake/tables/clean.population?limit=2").json()["code"] == "reason_required"
    r = c.get("/api/v1/lake/tables/clean.population?limit=2", headers={"X-Yiwang-Reason": quote("核对人口基础数据")})
    assert r.status_code == 200 and r.json()["personal"] and len(r.json()["rows"]) == 2
    with lake_factory() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.reason == "核对人口基础数据")).scalars().one()
        assert entry.action == "personal.read" and entry.target_id == "clean.population"
    leader = signed_in("leader")  # sees the whole city but holds no personal.read
    assert leader.get("/api/v1/lake/tables/raw.population?reason=想看原始数据").status_code == 403
    assert leader.get("/api/v1/lake/tables/share.population?limit=1").status_code == 200
    town = signed_in("town")
    assert town.get("/api/v1/lake/tables/share.population").status_code == 403


def test_pages(lake_install, signed_in):
    c = signed_in("admin")
    index = c.get("/workspace/lake")
    assert index.status_code == 200 and 'data-name="population"' in index.text
    page = c.get("/workspace/lake/population?zone=share&as_of=2999-01-01")
    assert page.status_code == 200 and 'id="rows"' in page.text
    page = c.get("/workspace/lake/population?zone=raw")
    assert 'id="reason-needed"' in page.text
    assert lake.lake_for(lake_install).exists("share.enterprise")
