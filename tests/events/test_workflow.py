"""The workflow from report to rating: the blocked-drain story, joint handling, returns, extensions,
backlog, supervision, optimistic locking and scope."""

import pytest
from ev_helpers import POINT, png_bytes
from sqlalchemy import func, select

from helpers import csrf_from
from yiwang.core.audit import AuditEntry, Origin
from yiwang.core.errors import AccessDenied, Conflict
from yiwang.core.security import Actor
from yiwang.events import service
from yiwang.events.models import Action, Case, Correction, Notification

DRAIN = "200404"


def _audit(db, case_id: int) -> list[str]:
    return [
        a
        for (a,) in db.execute(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == "event_case", AuditEntry.target_id == str(case_id))
            .order_by(AuditEntry.id)
        )
    ]


def _report(client, api_key, text="3号楼门口下水道堵了，污水冒到路面上", code=DRAIN, **extra):
    r = client.post(
        "/open311/v2/requests.json",
        data={"api_key": api_key, "service_code": code, "description": text, "phone": "13912345678", **POINT, **extra},
    )
    assert r.status_code == 201, r.text
    return int(r.json()[0]["service_request_id"][8:]), r.json()[0]["service_request_id"]


def test_blocked_drain_from_report_to_rating(client, bearer, api_key, run_triage, db, settings):
    case_id, number = _report(client, api_key)
    run_triage()
    case = db.get(Case, case_id)
    assert case.status == "registered" and case.category_code == DRAIN and case.town_code == "320583100"
    assert case.proposed_department_id is not None and case.triage_version
    dispatcher, water = bearer("dispatcher"), bearer("waterhandler")
    r = client.post(f"/api/v1/events/cases/{case_id}/dispatch", json={"note": "请尽快疏通"}, headers=dispatcher)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dispatched" and r.json()["department"] == "昆山市水务局"
    assert (
        db.execute(
            select(func.count())
            .select_from(Notification)
            .where(Notification.case_id == case_id, Notification.kind == "dispatch")
        ).scalar()
        == 1
    )
    r = client.post(f"/api/v1/events/cases/{case_id}/take", json={}, headers=water)
    assert r.status_code == 200 and r.json()["status"] == "handling" and r.json()["first_response_at"]
    # the handler reports done with a photo through the HTML form
    web = _login(client, "waterhandler", settings)
    html = web.get(f"/workspace/events/cases/{case_id}")
    assert html.status_code == 200 and "处置反馈" in html.text
    r = web.post(
        f"/workspace/events/cases/{case_id}/step/complete",
        data={
            "csrf_token": csrf_from(html.text),
            "note": "已疏通，恢复通畅",
            "version": str(r.json()["version"]),
            "public": "1",
        },  # the reply to the citizen: the handler ticks "visible to the public"
        files={"photos": ("after.png", png_bytes(), "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    case = db.get(Case, case_id)
    db.refresh(case)
    assert case.status == "verifying" and case.photos == 1
    r = client.post(
        f"/api/v1/events/cases/{case_id}/verify", json={"passed": True, "note": "现场已通畅"}, headers=bearer("grid")
    )
    assert r.status_code == 403  # 刘芳's grid is elsewhere in 玉山镇: a case outside her region
    r = client.post(
        f"/api/v1/events/cases/{case_id}/verify", json={"passed": True, "note": "现场已通畅"}, headers=bearer("town")
    )
    assert r.status_code == 200 and r.json()["status"] == "verified"
    r = client.post(f"/api/v1/events/cases/{case_id}/close", json={}, headers=dispatcher)
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closed_on_time"] is True
    # the citizen sees every step with number + phone, and rates
    public = client.get("/portal/events/status")
    r = client.post(
        "/portal/events/status", data={"csrf_token": csrf_from(public.text), "number": number, "phone": "13912345678"}
    )
    assert r.status_code == 200
    for label in ("受理", "立案", "派遣", "部门签收", "处置完成反馈", "现场核查通过", "结案"):
        assert label in r.text, label
    assert "昆山市水务局" in r.text and "已疏通" in r.text
    r = client.post(
        "/portal/events/status",
        data={
            "csrf_token": csrf_from(public.text),
            "number": number,
            "phone": "13912345678",
            "do": "rate",
            "rating": "5",
            "comment": "很快就修好了",
        },
    )
    assert r.status_code == 200 and "感谢您的评价" in r.text
    db.refresh(case)
    assert case.status == "rated" and case.rating == 5
    actions = _audit(db, case_id)
    for a in (
        "events.case.accept",
        "events.case.triage",
        "events.case.dispatch",
        "events.case.take",
        "events.case.complete",
        "events.case.verify_pass",
        "events.case.close",
        "events.case.rate",
    ):
        assert a in actions, a
    wrong = client.post(
        "/portal/events/status", data={"csrf_token": csrf_from(public.text), "number": number, "phone": "13800000000"}
    )
    assert wrong.status_code == 422 and "不匹配" in wrong.text


def _login(client, username, settings):
    from fastapi.testclient import TestClient

    from helpers import login

    c = TestClient(client.app)
    return login(c, username, settings.demo_password)


def test_second_completion_and_stale_version_conflict(client, bearer, api_key, run_triage, db):
    case_id, _n = _report(client, api_key)
    run_triage()
    d, w = bearer("dispatcher"), bearer("waterhandler")
    v = client.post(f"/api/v1/events/cases/{case_id}/dispatch", json={}, headers=d).json()["version"]
    first = client.post(f"/api/v1/events/cases/{case_id}/complete", json={"note": "已处理", "version": v}, headers=w)
    assert first.status_code == 200
    again = client.post(f"/api/v1/events/cases/{case_id}/complete", json={"note": "已处理", "version": v}, headers=w)
    assert again.status_code == 409 and again.json()["code"] == "version_conflict"
    unversioned = client.post(f"/api/v1/events/cases/{case_id}/complete", json={"note": "已处理"}, headers=w)
    assert unversioned.status_code == 409 and unversioned.json()["code"] in ("wrong_status", "task_done")
    failed = db.execute(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == "events.case.complete",
            AuditEntry.outcome == "failed",
            AuditEntry.target_id == str(case_id),
        )
    ).scalar()
    assert failed == 2


def test_handler_outside_the_department_is_refused_and_audited(client, bearer, api_key, run_triage, db):
    case_id, _n = _report(client, api_key)
    run_triage()
    client.post(f"/api/v1/events/cases/{case_id}/dispatch", json={}, headers=bearer("dispatcher"))
    r = client.post(f"/api/v1/events/cases/{case_id}/take", json={}, headers=bearer("handler"))  # 城管, not 水务
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert (
        db.execute(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "access.denied",
                AuditEntry.target_id == f"POST /api/v1/events/cases/{case_id}/take",
            )
        ).scalar()
        == 1
    )
    assert client.get(f"/api/v1/events/cases/{case_id}", headers=bearer("handler")).status_code == 403


def test_joint_handling_return_extension_backlog_and_supervision(client, bearer, api_key, run_triage, db):
    case_id, _n = _report(client, api_key, text="路面突然塌了一个大坑，车轮陷进去了", code="200401")
    run_triage()
    case = db.get(Case, case_id)
    d = bearer("dispatcher")
    from yiwang.events.queries import departments

    ids = {x.key: x.id for x in departments(db).values()}
    assert case.proposed_department_id == ids["housing"]  # rule: 住建 leads road collapses
    r = client.post(
        f"/api/v1/events/cases/{case_id}/dispatch",
        json={"department_id": ids["urban_management"], "assist_ids": [ids["water"]]},
        headers=d,
    )
    assert r.status_code == 200 and r.json()["is_joint"] is True
    lead, assist = bearer("handler"), bearer("waterhandler")
    client.post(f"/api/v1/events/cases/{case_id}/take", json={}, headers=lead)
    early = client.post(f"/api/v1/events/cases/{case_id}/complete", json={"note": "已回填"}, headers=lead)
    assert early.status_code == 409 and "协办部门尚未办结" in early.json()["detail"]
    assert (
        client.post(
            f"/api/v1/events/cases/{case_id}/complete", json={"note": "排水管已修复"}, headers=assist
        ).status_code
        == 200
    )
    ext = client.post(
        f"/api/v1/events/cases/{case_id}/extend", json={"days": 3, "reason": "需要等待沥青"}, headers=lead
    )
    assert ext.status_code == 200
    db.refresh(case)
    before = case.handle_due_at
    ok = client.post(f"/api/v1/events/cases/{case_id}/extend-decision", json={"approve": True}, headers=d)
    assert ok.status_code == 200 and ok.json()["handle_due_at"] > before.isoformat()[:19]
    sup = client.post(
        f"/api/v1/events/cases/{case_id}/supervise", json={"note": "请加快进度"}, headers=bearer("supervisor")
    )
    assert sup.status_code == 200
    assert (
        db.execute(
            select(func.count())
            .select_from(Notification)
            .where(Notification.case_id == case_id, Notification.kind == "supervise")
        ).scalar()
        == 1
    )  # the lead (assist is done)
    r = client.post(f"/api/v1/events/cases/{case_id}/return", json={"reason": "属于住建部门职责"}, headers=lead)
    assert r.status_code == 200 and r.json()["status"] == "registered" and r.json()["return_count"] == 1
    r = client.post(f"/api/v1/events/cases/{case_id}/backlog", json={"reason": "需纳入年度道路大修计划"}, headers=d)
    assert r.status_code == 200 and r.json()["status"] == "backlog" and r.json()["due_at"] is None
    r = client.post(f"/api/v1/events/cases/{case_id}/register", json={}, headers=d)
    assert r.status_code == 200 and r.json()["status"] == "registered"
    timeline = [a for (a,) in db.execute(select(Action.action).where(Action.case_id == case_id).order_by(Action.id))]
    assert timeline == [
        "accept",
        "triage",
        "dispatch",
        "take",
        "take",
        "complete",
        "extend_request",
        "extend_approve",
        "supervise",
        "return",
        "backlog",
        "register",
    ]


def test_reclassification_is_stored_as_a_correction(client, bearer, api_key, run_triage, db):
    r = client.post(
        "/api/v1/events/intake",
        headers={"X-API-Key": api_key},
        json={"source_ref": "cam-7", "channel": "video", "description": "画面识别：路边有人摆摊卖水果", **POINT},
    )
    assert r.status_code == 201, r.text
    run_triage()
    case = db.get(Case, r.json()["id"])
    assert case.triage_code == "200501"  # 无照经营游商
    r = client.post(
        f"/api/v1/events/cases/{case.id}/reclassify", json={"category_code": "200504"}, headers=bearer("dispatcher")
    )
    assert r.status_code == 200 and r.json()["category_code"] == "200504"
    corr = db.execute(select(Correction).where(Correction.case_id == case.id)).scalar_one()
    assert (corr.predicted_code, corr.corrected_code, corr.model_version) == ("200501", "200504", case.triage_version)


def test_reporter_reopens_when_dissatisfied(db, client, bearer, api_key, run_triage):
    case_id, _number = _report(client, api_key)
    run_triage()
    d, w = bearer("dispatcher"), bearer("waterhandler")
    for step, body, who in [
        ("dispatch", {}, d),
        ("complete", {"note": "已疏通"}, w),
        ("verify", {"passed": True}, d),
        ("close", {}, d),
    ]:
        assert client.post(f"/api/v1/events/cases/{case_id}/{step}", json=body, headers=who).status_code == 200, step
    with pytest.raises(AccessDenied):
        service.reopen(
            db,
            actor=Actor(user_id=999, username="x", display_name="x"),
            case_id=case_id,
            origin=Origin(),
            reason="没修好",
        )
    case = service.reopen(
        db,
        actor=Actor(user_id=None, username="r", display_name="r"),
        case_id=case_id,
        origin=Origin(),
        reason="还是堵的",
        phone_ok=True,
    )
    assert case.status == "registered" and case.reopen_count == 1 and case.closed_at is None
    with pytest.raises(Conflict):
        service.reopen(
            db,
            actor=Actor(user_id=None, username="r", display_name="r"),
            case_id=case_id,
            origin=Origin(),
            reason="再次",
            phone_ok=True,
        )


def test_one_table_of_steps_for_api_and_forms():
    """The API, the HTML forms and the step permissions name the same steps."""
    from yiwang.events import roles, service, views

    assert set(service.STEP_FUNCTIONS) == set(roles.STEP_PERMISSIONS)
    assert set(service.STEP_FUNCTIONS) > views.FORM_STEPS
