"""Least privilege for the event center: reporters' data by its own permission; the source of a staff
report follows a permission, not a role's name."""

from __future__ import annotations

from ev_helpers import POINT
from sqlalchemy import select

from yiwang.core.audit import AuditEntry
from yiwang.events.models import Case


def _reported(client, api_key) -> int:
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "200404",
            "description": "井盖缺失，有人差点踩空",
            "phone": "13912345678",
            "first_name": "明",
            "last_name": "张",
            **POINT,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()[0]["service_request_id"][8:])


def test_dispatcher_reads_a_reporter_with_events_reporter_read(client, bearer, api_key, db):
    cid = _reported(client, api_key)
    dispatcher = bearer("dispatcher")
    masked = client.get(f"/api/v1/events/cases/{cid}", headers=dispatcher).json()
    assert "13912345678" not in str(masked)
    r = client.get(f"/api/v1/events/cases/{cid}/personal", params={"reason": "回访上报人核实位置"}, headers=dispatcher)
    assert r.status_code == 200 and r.json()["reporter_phone"] == "13912345678"
    entry = db.execute(
        select(AuditEntry).where(
            AuditEntry.action == "personal.read",
            AuditEntry.target_type == "event_case",
            AuditEntry.target_id == str(cid),
        )
    ).scalar_one()
    assert entry.actor_username == "dispatcher" and entry.reason == "回访上报人核实位置"
    # the leader sees the case (city scope) but holds no events.reporter.read: refused by the route
    r = client.get(f"/api/v1/events/cases/{cid}/personal", params={"reason": "想看看是谁"}, headers=bearer("leader"))
    assert r.status_code == 403 and "events.reporter.read" in r.json()["detail"]


def test_staff_report_source_follows_a_permission(client, bearer, db):
    def source_of(username: str) -> str:
        r = client.post(
            "/api/v1/events/cases",
            json={"description": f"{username} 巡查发现路灯不亮", **POINT},
            headers=bearer(username),
        )
        assert r.status_code in (200, 201), r.text
        return db.execute(select(Case.channel).where(Case.id == r.json()["id"])).scalar_one()

    assert source_of("town") == "inspector"  # events.report
    assert source_of("citizen") == "app"  # events.report_public
    assert source_of("dispatcher") == "inspector"
    r = client.post("/api/v1/events/cases", json={"description": "无权上报", **POINT}, headers=bearer("handler"))
    assert r.status_code == 403  # neither events.report nor events.report_public


def test_a_staff_reporter_reads_their_own_reports_contact(client, bearer, db):
    """The grid worker holds events.report but no events.reporter.read: their own report's contact is theirs."""
    from yiwang.events.locate import locator

    lng, lat = locator(db).point_of("32058310000201")  # the demo grid worker's grid
    grid = bearer("grid")
    r = client.post(
        "/api/v1/events/cases",
        json={"description": "网格巡查：路灯不亮", "reporter_phone": "13712345678", "lat": lat, "long": lng},
        headers=grid,
    )
    assert r.status_code in (200, 201), r.text
    cid = r.json()["id"]
    r = client.get(f"/api/v1/events/cases/{cid}/personal", params={"reason": "核对本人上报的联系电话"}, headers=grid)
    assert r.status_code == 200, r.text
