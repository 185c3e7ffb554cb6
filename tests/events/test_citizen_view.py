"""What a signed-in citizen reads of their own report (issue 14, item 2, the citizen side).

The staff view of a case (``queries.case_public`` with the whole timeline and the tasks) needs
``events.view``; the reporter of the case without it gets the reporter's view (``queries.case_for_reporter``):
the steps of ``public_timeline`` (notes only where staff made them public, redacted; no staff names; no
internal steps), the address down to the community and the point to about 100 m, their own text as written,
their contact masked. Each route a citizen can reach for their own case is read with planted internal data:
a supervision (督办) note carrying the ID number of someone born after 2000 (valid check digit), an internal
dispatch note, a backlog reason, the staff's names.

And the ledger: a request path of 5,000 characters reaches the audit entry of a refused request
(``target_id``, 200 characters); ``audit.record`` fits it, so the answer is a 4xx on PostgreSQL too.
"""

from __future__ import annotations

import re

from ev_helpers import POINT
from sqlalchemy import select

from helpers import csrf_from
from yiwang.core.audit import CUT_MARK, AuditEntry
from yiwang.events.models import Case

DRAIN = "200404"
ID_VALID = "320583200808081237"  # born 2008-08-08, valid check digit (GB 11643)
OWN_TEXT = "小区门口下水道堵了，污水漫到路面，晚上有味道"
ADDRESS = "昆山市玉山镇朝阳新村12栋304室"
OWN_PHONE = "13912345678"
INTERNAL_SUPERVISE = f"督办：王科长内部批示今天必须处理，当事人身份证{ID_VALID}"
INTERNAL_DISPATCH = "内部派遣说明：优先级上调，勿告知上报人"
BACKLOG_REASON = "内部挂账：今年预算已用完，明年管网改造一并处理"
PUBLIC_DISPATCH = "已转水务部门处理，如有问题请联系13600003333"
INTERNAL_KEYS = (
    "backlog_reason",
    "triage_status",
    "triage_code",
    "triage_confidence",
    "triage_version",
    "needs_human",
    "priority",
    "warn_level",
    "escalation_level",
    "supervise_count",
    "return_count",
    "reopen_count",
    "department_id",
    "proposed_department_id",
    "tasks",
    "version",
    "due_at",
    "handle_due_at",
    "token",
    "region_code",
    "located_by",
)


def _report(client, bearer) -> tuple[int, str]:
    r = client.post(
        "/api/v1/events/cases",
        headers=bearer("citizen"),
        json={
            "description": OWN_TEXT,
            "category_code": DRAIN,
            "address": ADDRESS,
            "reporter_name": "张明",
            "reporter_phone": OWN_PHONE,
            **POINT,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["number"]


def _registered(client, bearer, db, run_triage, case_id: int) -> None:
    run_triage()
    db.expire_all()
    if db.get(Case, case_id).status == "accepted":  # left for a person by the triage
        r = client.post(
            f"/api/v1/events/cases/{case_id}/register", json={"category_code": DRAIN}, headers=bearer("dispatcher")
        )
        assert r.status_code == 200, r.text


def _planted(client, bearer, db, run_triage) -> tuple[int, str]:
    """A citizen's report, dispatched with a public note, then an internal one, supervised, and backlogged."""
    case_id, number = _report(client, bearer)
    _registered(client, bearer, db, run_triage, case_id)
    dispatcher = bearer("dispatcher")
    r = client.post(
        f"/api/v1/events/cases/{case_id}/dispatch", json={"note": PUBLIC_DISPATCH, "public": True}, headers=dispatcher
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/events/cases/{case_id}/supervise", json={"note": INTERNAL_SUPERVISE}, headers=bearer("supervisor")
    )
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/events/cases/{case_id}/backlog", json={"reason": BACKLOG_REASON}, headers=dispatcher)
    assert r.status_code == 200, r.text
    return case_id, number


def _staff_names(client, bearer, case_id: int) -> set[str]:
    staff = client.get(f"/api/v1/events/cases/{case_id}", headers=bearer("dispatcher")).json()
    names = {a["actor"] for a in staff["timeline"] if a["actor"]} - {"张明"}  # the reporter's own steps
    assert {"郑凯", "冯丽"} <= names  # the dispatcher's and the supervisor's names: in the staff view only
    return names | {"dispatcher", "supervisor", "waterhandler"}


def _assert_clean(text: str, *also: str) -> None:
    for value in (
        ID_VALID,
        INTERNAL_SUPERVISE,
        "王科长",
        INTERNAL_DISPATCH,
        BACKLOG_REASON,
        "预算",
        "13600003333",
        OWN_PHONE,
        "304室",
        "12栋",
        str(POINT["lat"]),
        str(POINT["long"]),
    ) + also:
        assert value not in text, f"{value!r} came out in the citizen's view"


def _assert_reporter_view(body: dict, names: set[str], *, timeline: bool = True) -> None:
    assert body["view"] == "reporter"
    for key in INTERNAL_KEYS:
        assert key not in body, key
    _assert_clean(str(body), *names)
    assert body["description"] == OWN_TEXT  # their own words, as they wrote them
    assert body["address"] == "昆山市玉山镇朝阳新村"
    assert (body["lat"], body["lng"]) == (round(POINT["lat"], 3), round(POINT["long"], 3))  # about 100 m
    assert body["reporter_phone"] == "139****5678" and body["reporter_name"] == "张*"
    if timeline:
        steps = body["timeline"]
        assert not {"supervise", "triage", "escalate"} & {s["action"] for s in steps}
        assert not any("actor" in s or "id" in s or "detail" in s for s in steps)
        [dispatch] = [s for s in steps if s["action"] == "dispatch"]
        assert dispatch["note"] == "已转水务部门处理，如有问题请联系136****3333"  # public, redacted
        assert [s["note"] for s in steps if s["action"] == "backlog"] == [None]  # the reason was not made public


def test_reporter_reads_their_case_without_internal_notes(client, bearer, db, run_triage, as_role):
    case_id, number = _planted(client, bearer, db, run_triage)
    names = _staff_names(client, bearer, case_id)
    staff = client.get(f"/api/v1/events/cases/{case_id}", headers=bearer("dispatcher")).json()
    assert staff["backlog_reason"] == BACKLOG_REASON and INTERNAL_SUPERVISE in str(staff["timeline"])
    citizen = bearer("citizen")
    # the case
    r = client.get(f"/api/v1/events/cases/{case_id}", headers=citizen)
    assert r.status_code == 200, r.text
    body = r.json()
    _assert_reporter_view(body, names)
    assert body["status"] == "backlog" and body["number"] == number and body["department"] == "昆山市水务局"
    _assert_clean(r.text, *names)
    # the list of their reports, also with the staff's filters on internal fields (ignored for them)
    for params in ({}, {"warn": "green"}, {"overdue": "true"}, {"q": "下水道"}):
        r = client.get("/api/v1/events/cases", params=params, headers=citizen)
        assert r.status_code == 200, r.text
        mine = [c for c in r.json()["items"] if c["id"] == case_id]
        assert len(mine) == 1 and all(c["view"] == "reporter" for c in r.json()["items"]), params
        _assert_reporter_view(mine[0], names, timeline=False)
        _assert_clean(r.text, *names)
    # their own contact: whole, with a reason, audited (nothing else comes with it)
    r = client.get(f"/api/v1/events/cases/{case_id}/personal", params={"reason": "核对我留的电话"}, headers=citizen)
    assert r.status_code == 200 and r.json() == {"reporter_name": "张明", "reporter_phone": OWN_PHONE}
    # the staff pages stay closed to them
    web = as_role["citizen"]
    assert web.get(f"/workspace/events/cases/{case_id}").status_code == 403
    assert web.get("/workspace/events/cases").status_code == 403
    # the portal's status page, with the number and the phone
    page = client.get("/portal/events/status")
    r = client.post(
        "/portal/events/status", data={"csrf_token": csrf_from(page.text), "number": number, "phone": OWN_PHONE}
    )
    assert r.status_code == 200 and "136****3333" in r.text and "昆山市水务局" in r.text
    assert "督办" not in r.text.split('id="public-timeline"')[1]  # the supervision step itself is internal
    _assert_clean(re.sub(r'value="[^"]*"', "", r.text), *names)
    # someone else's report: refused, as before
    other = client.post("/api/v1/events/cases", headers=bearer("enterprise"), json={"description": "路灯不亮", **POINT})
    assert other.status_code == 201, other.text
    assert client.get(f"/api/v1/events/cases/{other.json()['id']}", headers=citizen).status_code == 403


def test_reporter_who_rates_gets_the_reporter_view_back(client, bearer, db, run_triage):
    case_id, _number = _report(client, bearer)
    _registered(client, bearer, db, run_triage, case_id)
    dispatcher, water = bearer("dispatcher"), bearer("waterhandler")
    steps = [
        ("dispatch", dispatcher, {"note": INTERNAL_DISPATCH}),
        ("take", water, {}),
        ("supervise", bearer("supervisor"), {"note": INTERNAL_SUPERVISE}),
        ("complete", water, {"note": f"已疏通。内部：经办人联系13500004444，{ID_VALID}"}),
        ("verify", bearer("town"), {"passed": True, "note": "现场已通畅", "public": True}),
        ("close", dispatcher, {"note": "结案"}),
    ]
    for step, who, body in steps:
        r = client.post(f"/api/v1/events/cases/{case_id}/{step}", json=body, headers=who)
        assert r.status_code == 200, (step, r.text)
    names = _staff_names(client, bearer, case_id)
    citizen = bearer("citizen")
    notices = client.get("/api/v1/events/notifications?unread=true", headers=citizen)
    assert notices.status_code == 200, notices.text  # the reporter reads "your report is closed"
    assert any(str(case_id) == str(n.get("case_id")) for n in notices.json()), notices.json()
    r = client.post(f"/api/v1/events/cases/{case_id}/rate", json={"rating": 4, "comment": "修得挺快"}, headers=citizen)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["view"] == "reporter" and body["status"] == "rated" and body["rating_comment"] == "修得挺快"
    for key in INTERNAL_KEYS:
        assert key not in body, key
    _assert_clean(r.text, "13500004444", *names)
    r = client.get(f"/api/v1/events/cases/{case_id}", headers=citizen)
    _assert_clean(r.text, "13500004444", *names)
    notes = {s["action"]: s["note"] for s in r.json()["timeline"]}
    assert notes["verify_pass"] == "现场已通畅" and notes["complete"] is None and notes["close"] is None
    # staff keep the staff view, in a step's answer too
    r = client.post(
        f"/api/v1/events/cases/{case_id}/reopen", json={"reason": "town worker: still blocked"}, headers=bearer("town")
    )
    assert r.status_code == 403, r.text  # only the reporter reopens (town holds events.report, not the case)
    staff = client.get(f"/api/v1/events/cases/{case_id}", headers=dispatcher).json()
    assert "view" not in staff and staff["supervise_count"] == 1 and staff["tasks"]


def _last_audit_id(db) -> int:
    return db.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()


def test_a_5000_character_path_is_refused_not_a_500(client, bearer, db, login_as):
    """Refusals audit the request path into ``target_id`` (200 characters): on PostgreSQL an over-long value
    made the audit insert fail and the request a 500; ``audit.record`` now fits it to the column."""
    long = "x" * 5000
    case_id = db.execute(select(Case.id).order_by(Case.id).limit(1)).scalar_one()
    padded = str(case_id).rjust(5000, "0")  # still the case's id, in a path of 5,000 characters
    before = _last_audit_id(db)
    # malformed input to the event center (audited as events.input_rejected)
    assert client.get(f"/api/v1/events/cases/{long}", headers=bearer("dispatcher")).status_code == 422
    assert (
        client.post(f"/api/v1/events/cases/{case_id}/{long}", json={}, headers=bearer("dispatcher")).status_code == 422
    )
    # a denial (audited by the web layer as access.denied)
    assert client.get(f"/api/v1/events/cases/{padded}", headers=bearer("citizen")).status_code == 403
    assert login_as("citizen").get(f"/workspace/events/cases/{padded}").status_code == 403
    # a refused form (views._rejected): a file that is no photo
    web = login_as("dispatcher")
    page = web.get(f"/workspace/events/cases/{case_id}")
    r = web.post(
        f"/workspace/events/cases/{padded}/step/verify",
        data={"csrf_token": csrf_from(page.text), "passed": "1"},
        files={"photos": ("a.png", b"not an image at all", "image/png")},
    )
    assert r.status_code == 415, r.text[:300]
    # Open311 (cut by its own code before; now by the ledger)
    assert client.get(f"/open311/v2/requests/{long}.json").status_code in (400, 404)
    entries = (
        db.execute(select(AuditEntry).where(AuditEntry.id > before, AuditEntry.target_type == "route")).scalars().all()
    )
    actions = {e.action for e in entries}
    assert {"events.input_rejected", "access.denied", "events.case.verify"} <= actions, actions
    long_ones = [e for e in entries if len(e.target_id) == 200]
    assert len(long_ones) >= 5 and all(e.target_id.endswith(CUT_MARK) for e in long_ones)
    assert all(e.target_id.startswith(("GET /", "POST /")) for e in long_ones)
