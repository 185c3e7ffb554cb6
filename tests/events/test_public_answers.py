"""What a signed-out caller can read (issue 14, item 2): Open311 answers, the lean intake front and the
portal's status page never carry a resident ID number, a phone number, an internal note or a door number.

Each answer is checked with planted data: the ID number of a citizen born after 2000 (which the old
phone-shaped mask let through whole), one born before, phone numbers in ASCII and full-width digits,
and supervision / dispatch notes that are internal.
"""

from __future__ import annotations

import re

from ev_helpers import POINT
from helpers import csrf_from
from sqlalchemy import select

from yiwang.core.audit import AuditEntry
from yiwang.events.models import Action, Attachment, Case

DRAIN = "200404"
ID_2005 = "320583200501011230"  # born 2005-01-01: no "1[3-9]" run inside, the old mask missed it
ID_1990 = "32058319900101123X"
PHONE = "13912345678"
PHONE_FULLWIDTH = "１３７００００２２２２"
INTERNAL_SUPERVISE = "督办：王科长内部批示务必今天处理"
INTERNAL_DISPATCH = "内部派遣说明：优先级上调"
REPORT = (f"朝阳新村12栋304室门口下水道堵了，我的身份证{ID_2005}，电话{PHONE}，"
          f"邻居电话{PHONE_FULLWIDTH}，老人身份证{ID_1990}")
PLANTED = (ID_2005, ID_1990, PHONE, PHONE_FULLWIDTH, "13700002222", "304室", INTERNAL_SUPERVISE,
           INTERNAL_DISPATCH, "13600003333", "320583201202290018")


def _assert_clean(text: str, *also: str) -> None:
    for value in PLANTED + also:
        assert value not in text, f"{value!r} came out in a public answer"


def _handled_case(client, bearer, api_key, run_triage):
    """A case reported with planted personal data, dispatched with an internal note, supervised, and handled
    with a completion reply to the citizen that itself quotes a phone and an ID number."""
    r = client.post("/open311/v2/requests.json", data={
        "api_key": api_key, "service_code": DRAIN, "description": REPORT, "phone": PHONE,
        "address_string": "昆山市玉山镇朝阳新村12栋304室", **POINT})
    assert r.status_code == 201, r.text
    _assert_clean(r.text)  # the lean front's answer
    number = r.json()[0]["service_request_id"]
    case_id = int(number[8:])
    run_triage()
    dispatcher, water = bearer("dispatcher"), bearer("waterhandler")
    r = client.post(f"/api/v1/events/cases/{case_id}/dispatch", json={"note": INTERNAL_DISPATCH}, headers=dispatcher)
    assert r.status_code == 200, r.text
    assert client.post(f"/api/v1/events/cases/{case_id}/take", json={}, headers=water).status_code == 200
    r = client.post(f"/api/v1/events/cases/{case_id}/supervise", json={"note": INTERNAL_SUPERVISE},
                    headers=bearer("supervisor"))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/events/cases/{case_id}/complete", headers=water, json={
        "note": "已疏通，恢复通畅。如有问题联系13600003333，登记人身份证320583201202290018"})
    assert r.status_code == 200, r.text
    return case_id, number


def test_open311_answers_carry_only_public_notes_redacted(client, bearer, api_key, run_triage, db):
    case_id, number = _handled_case(client, bearer, api_key, run_triage)
    # the staff API still sees everything (the notes are stored as written)
    staff = client.get(f"/api/v1/events/cases/{case_id}", headers=bearer("admin")).json()
    assert INTERNAL_SUPERVISE in str(staff["timeline"]) and ID_2005 in staff["description"]
    r = client.get(f"/open311/v2/requests/{number}.json")
    assert r.status_code == 200
    [req] = r.json()
    _assert_clean(r.text)
    assert req["status_notes"].startswith("已疏通，恢复通畅") and "136****3333" in req["status_notes"]
    assert "320583********0018" in req["status_notes"]
    assert "320583********1230" in req["description"] and "139****5678" in req["description"]
    assert "１３７****２２２２" in req["description"]
    assert req["address"] == "昆山市玉山镇朝阳新村" and req["media_url"] is None
    listed = client.get("/open311/v2/requests.json", params={"service_request_id": number})
    assert listed.status_code == 200 and listed.json() == [req]
    _assert_clean(listed.text)
    recent = client.get("/open311/v2/requests.json")  # the default list (last 90 days) holds it too
    assert number in recent.text
    _assert_clean(recent.text)


def test_a_case_with_only_internal_notes_has_no_status_notes(client, bearer, api_key, run_triage):
    r = client.post("/open311/v2/requests.json", data={
        "api_key": api_key, "service_code": DRAIN, "description": "路面积水", **POINT})
    number = r.json()[0]["service_request_id"]
    case_id = int(number[8:])
    run_triage()
    assert client.post(f"/api/v1/events/cases/{case_id}/dispatch", json={"note": INTERNAL_DISPATCH},
                       headers=bearer("dispatcher")).status_code == 200
    assert client.post(f"/api/v1/events/cases/{case_id}/supervise", json={"note": INTERNAL_SUPERVISE},
                       headers=bearer("supervisor")).status_code == 200
    r = client.post(f"/api/v1/events/cases/{case_id}/return", json={"reason": "不属于本部门，内部电话13600003333"},
                    headers=bearer("waterhandler"))
    assert r.status_code == 200, r.text
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"] is None  # the old rule published the latest note of any step: here the return's
    _assert_clean(str(req))


def test_status_page_shows_public_notes_only(client, bearer, api_key, run_triage):
    _case_id, number = _handled_case(client, bearer, api_key, run_triage)
    page = client.get("/portal/events/status")
    r = client.post("/portal/events/status", data={"csrf_token": csrf_from(page.text), "number": number,
                                                   "phone": PHONE})
    assert r.status_code == 200 and "已疏通，恢复通畅" in r.text and "136****3333" in r.text
    assert "昆山市水务局" in r.text  # the steps are still there, without their internal notes
    # the phone the caller typed is echoed into the form fields (the rate / reopen forms need it), nowhere else
    _assert_clean(re.sub(r'value="[^"]*"', "", r.text))
    assert INTERNAL_SUPERVISE not in r.text and ID_2005 not in r.text


def test_photos_are_not_served_to_anyone_by_sequential_id(client, db, bearer, api_key, run_triage, settings):
    from ev_helpers import png_bytes

    from yiwang.events import photos
    from yiwang.events.workflow import attach

    case_id, _number = _handled_case(client, bearer, api_key, run_triage)
    case = db.get(Case, case_id)
    first = db.execute(select(Action).where(Action.case_id == case_id)).scalars().first()
    from yiwang.core.security import SYSTEM_ACTOR

    attach(db, case, first, photos.check_all([(png_bytes(), "door.png")]), home=settings.home_path, actor=SYSTEM_ACTOR)
    db.commit()
    att_id = db.execute(select(Attachment.id).where(Attachment.case_id == case_id)).scalar_one()
    before = db.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    r = client.get(f"/open311/v2/media/{att_id}")
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/json")
    assert db.execute(select(AuditEntry.action).where(AuditEntry.id > before)).scalars().all() == ["access.denied"]
    assert client.get(f"/open311/v2/media/{att_id}", headers=bearer("dispatcher")).status_code == 200  # staff in scope
    assert client.get(f"/open311/v2/media/{att_id}", headers=bearer("grid")).status_code == 403  # out of her grid


def test_lean_front_refusals_do_not_echo_personal_data(client, api_key):
    r = client.post("/open311/v2/requests.json", data={"api_key": "wrong", "service_code": DRAIN,
                                                      "description": REPORT, **POINT})
    assert r.status_code == 403
    _assert_clean(r.text)
    r = client.post("/api/v1/events/intake", content=f'{{"description": "{REPORT}", "source_ref": "x"}}'.encode(),
                    headers={"content-type": "application/json", "x-api-key": "wrong"})
    assert r.status_code in (401, 403, 422), r.text
    _assert_clean(r.text)
