"""What a signed-out caller can read (issue 14, item 2): Open311 answers, the lean intake front and the
portal's status page never carry a resident ID number, a phone number, an internal note or a door number.

Each answer is checked with planted data: the ID number of a citizen born after 2000 (which the old
phone-shaped mask let through whole; one with a valid check digit too), one born before, phone numbers in
ASCII and full-width digits, and supervision / dispatch notes that are internal.

What is public is decided by staff: a note only when the box "visible to the reporter and the public" was
ticked (or a dispatcher marked it later), a photo only when marked publishable, and then only under its
unguessable ``public_id``; the point is coarsened to about 100 m.
"""

from __future__ import annotations

import io
import json
import re

from ev_helpers import POINT
from sqlalchemy import select

from helpers import csrf_from
from yiwang.core.audit import AuditEntry
from yiwang.events.models import Action, Attachment, Case

DRAIN = "200404"
ID_2005 = "320583200501011230"  # born 2005-01-01: no "1[3-9]" run inside, the old mask missed it
ID_1990 = "32058319900101123X"
ID_VALID = "320583200808081237"  # born 2008-08-08, valid check digit (GB 11643)
PHONE = "13912345678"
PHONE_FULLWIDTH = "１３７００００２２２２"
INTERNAL_SUPERVISE = "督办：王科长内部批示务必今天处理"
INTERNAL_DISPATCH = "内部派遣说明：优先级上调"
INTERNAL_REPLY = "内部：已处理，经办人手机13500004444"  # a completion note nobody made public
REPORT = (
    f"朝阳新村12栋304室门口下水道堵了，我的身份证{ID_2005}，电话{PHONE}，"
    f"邻居电话{PHONE_FULLWIDTH}，老人身份证{ID_1990}，孩子身份证{ID_VALID}"
)
PUBLIC_REPLY = f"已疏通，恢复通畅。如有问题联系13600003333，登记人身份证320583201202290018，学生{ID_VALID}"
PLANTED = (
    ID_2005,
    ID_1990,
    ID_VALID,
    PHONE,
    PHONE_FULLWIDTH,
    "13700002222",
    "304室",
    INTERNAL_SUPERVISE,
    INTERNAL_DISPATCH,
    "13600003333",
    "320583201202290018",
    INTERNAL_REPLY,
    "13500004444",
    str(POINT["lat"]),
    str(POINT["long"]),
)


def _assert_clean(text: str, *also: str) -> None:
    for value in PLANTED + also:
        assert value not in text, f"{value!r} came out in a public answer"


def _handled_case(client, bearer, api_key, run_triage, *, public_reply: bool = True):
    """A case reported with planted personal data, dispatched with an internal note, supervised, and handled
    with a completion reply that itself quotes a phone and ID numbers: ticked public (``public_reply``), or not."""
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": DRAIN,
            "description": REPORT,
            "phone": PHONE,
            "address_string": "昆山市玉山镇朝阳新村12栋304室",
            **POINT,
        },
    )
    assert r.status_code == 201, r.text
    _assert_clean(r.text)  # the lean front's answer
    number = r.json()[0]["service_request_id"]
    case_id = int(number[8:])
    run_triage()
    dispatcher, water = bearer("dispatcher"), bearer("waterhandler")
    r = client.post(f"/api/v1/events/cases/{case_id}/dispatch", json={"note": INTERNAL_DISPATCH}, headers=dispatcher)
    assert r.status_code == 200, r.text
    assert client.post(f"/api/v1/events/cases/{case_id}/take", json={}, headers=water).status_code == 200
    r = client.post(
        f"/api/v1/events/cases/{case_id}/supervise", json={"note": INTERNAL_SUPERVISE}, headers=bearer("supervisor")
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/events/cases/{case_id}/complete",
        headers=water,
        json={"note": PUBLIC_REPLY if public_reply else INTERNAL_REPLY, "public": public_reply},
    )
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
    assert "320583********0018" in req["status_notes"] and "320583********1237" in req["status_notes"]
    assert "320583********1230" in req["description"] and "139****5678" in req["description"]
    assert "320583********1237" in req["description"]
    # the point to 3 decimals (about 100 m): the door the address lost is not given back by the coordinates
    assert (req["lat"], req["long"]) == (round(POINT["lat"], 3), round(POINT["long"], 3))
    assert "１３７****２２２２" in req["description"]
    assert req["address"] == "昆山市玉山镇朝阳新村" and req["media_url"] is None
    listed = client.get("/open311/v2/requests.json", params={"service_request_id": number})
    assert listed.status_code == 200 and listed.json() == [req]
    _assert_clean(listed.text)
    recent = client.get("/open311/v2/requests.json")  # the default list (last 90 days) holds it too
    assert number in recent.text
    _assert_clean(recent.text)


def test_a_case_with_only_internal_notes_has_no_status_notes(client, bearer, api_key, run_triage):
    r = client.post(
        "/open311/v2/requests.json",
        data={"api_key": api_key, "service_code": DRAIN, "description": "路面积水", **POINT},
    )
    number = r.json()[0]["service_request_id"]
    case_id = int(number[8:])
    run_triage()
    assert (
        client.post(
            f"/api/v1/events/cases/{case_id}/dispatch", json={"note": INTERNAL_DISPATCH}, headers=bearer("dispatcher")
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/events/cases/{case_id}/supervise", json={"note": INTERNAL_SUPERVISE}, headers=bearer("supervisor")
        ).status_code
        == 200
    )
    r = client.post(
        f"/api/v1/events/cases/{case_id}/return",
        json={"reason": "不属于本部门，内部电话13600003333"},
        headers=bearer("waterhandler"),
    )
    assert r.status_code == 200, r.text
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"] is None  # the old rule published the latest note of any step: here the return's
    _assert_clean(str(req))


def test_status_page_shows_public_notes_only(client, bearer, api_key, run_triage):
    _case_id, number = _handled_case(client, bearer, api_key, run_triage)
    page = client.get("/portal/events/status")
    r = client.post(
        "/portal/events/status", data={"csrf_token": csrf_from(page.text), "number": number, "phone": PHONE}
    )
    assert r.status_code == 200 and "已疏通，恢复通畅" in r.text and "136****3333" in r.text
    assert "昆山市水务局" in r.text  # the steps are still there, without their internal notes
    # the phone the caller typed is echoed into the form fields (the rate / reopen forms need it), nowhere else
    _assert_clean(re.sub(r'value="[^"]*"', "", r.text))
    assert INTERNAL_SUPERVISE not in r.text and ID_2005 not in r.text


def _jpeg_with_metadata() -> bytes:
    """A JPEG whose EXIF holds the reporter's phone and the GPS position of the door."""
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = f"door of 304, call {PHONE}"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (31.0, 23.0, 24.72),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (120.0, 57.0, 30.6),
        }
    )
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(buf, "JPEG", exif=exif)
    data = buf.getvalue()
    assert PHONE.encode() in data  # really planted
    return data


def _photos(db, settings, case_id: int) -> list[Attachment]:
    from ev_helpers import png_bytes

    from yiwang.core.security import SYSTEM_ACTOR
    from yiwang.events import photos
    from yiwang.events.service import attach

    case = db.get(Case, case_id)
    first = db.execute(select(Action).where(Action.case_id == case_id).order_by(Action.id)).scalars().first()
    attach(
        db,
        case,
        first,
        photos.check_all([(_jpeg_with_metadata(), "door.jpg"), (png_bytes(), "drain.png")]),
        home=settings.home_path,
        actor=SYSTEM_ACTOR,
    )
    db.commit()
    return list(db.execute(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)).scalars())


def _audited(db, action: str, since: int) -> list[dict]:
    return [
        json.loads(e.detail) if isinstance(e.detail, str) else e.detail
        for e in db.execute(select(AuditEntry).where(AuditEntry.id > since, AuditEntry.action == action)).scalars()
    ]


def _last_audit_id(db) -> int:
    return db.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()


def test_photos_are_public_only_when_publishable_and_only_by_public_id(
    client, db, bearer, api_key, run_triage, settings
):
    from PIL import Image

    from yiwang.events.queries import PUBLIC_ID

    case_id, number = _handled_case(client, bearer, api_key, run_triage)
    door, drain = _photos(db, settings, case_id)
    assert PUBLIC_ID.fullmatch(door.public_id) and door.public_id != drain.public_id
    assert not door.publishable and not drain.publishable
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["media_url"] is None
    # nothing is served before a decision: not by public id, never by the sequential id (in any spelling)
    before = _last_audit_id(db)
    for ref in (door.public_id, drain.public_id, door.id, f"{door.id:08d}", str(door.id).rjust(22, "0"), "A" * 22):
        r = client.get(f"/open311/v2/media/{ref}")
        assert r.status_code == 404 and r.json()[0]["code"] == 404, (ref, r.status_code, r.text)
    assert client.get("/open311/v2/media/..%2F..%2Fyiwang.db").status_code == 404
    assert len(_audited(db, "events.open311.rejected", before)) >= 6  # refusals are audited, as every Open311 one
    dispatcher = bearer("dispatcher")
    # only a dispatcher decides, and only for a photo of the case named
    r = client.post(
        f"/api/v1/events/cases/{case_id}/photos/{door.id}/visibility",
        json={"public": True},
        headers=bearer("waterhandler"),
    )
    assert r.status_code == 403, r.text
    other = client.post(
        "/open311/v2/requests.json",
        data={"api_key": api_key, "service_code": DRAIN, "description": "另一处积水", **POINT},
    ).json()[0]
    r = client.post(
        f"/api/v1/events/cases/{int(other['service_request_id'][8:])}/photos/{door.id}/visibility",
        json={"public": True},
        headers=dispatcher,
    )
    assert r.status_code == 404, r.text
    before = _last_audit_id(db)
    r = client.post(
        f"/api/v1/events/cases/{case_id}/photos/{door.id}/visibility", json={"public": True}, headers=dispatcher
    )
    assert r.status_code == 200 and r.json() == {"id": door.id, "publishable": True, "public_id": door.public_id}
    assert _audited(db, "events.case.photo_public", before) == [
        {"attachment_id": door.id, "from": False, "publishable": True}
    ]
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["media_url"] == f"http://testserver/open311/v2/media/{door.public_id}"
    listed = client.get("/open311/v2/requests.json", params={"service_request_id": number}).json()
    assert listed == [req]
    r = client.get(req["media_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    # served without its metadata: no phone, no GPS position, no EXIF at all; the same picture
    assert PHONE.encode() not in r.content and b"Exif" not in r.content
    with Image.open(io.BytesIO(r.content)) as served:
        assert served.size == (40, 30) and not served.getexif()
    stored = db.get(Attachment, door.id)
    assert PHONE.encode() in (settings.home_path / "uploads" / stored.path).read_bytes()  # the evidence is kept
    # still never by sequential id; the other photo is still not public
    assert client.get(f"/open311/v2/media/{door.id}").status_code == 404
    assert client.get(f"/open311/v2/media/{drain.public_id}").status_code == 404
    # staff open every photo in their scope by id, as before; outside it, no
    assert client.get(f"/workspace/events/photos/{drain.id}", headers=dispatcher).status_code == 200
    assert client.get(f"/workspace/events/photos/{drain.id}", headers=bearer("grid")).status_code == 403
    r = client.get(f"/workspace/events/photos/{drain.id}", follow_redirects=False)  # signed out: to the sign-in
    assert r.status_code in (302, 303, 401, 403) and not r.headers.get("content-type", "").startswith("image/")
    # withdrawn: gone from the answer and from the media route
    r = client.post(
        f"/api/v1/events/cases/{case_id}/photos/{door.id}/visibility", json={"public": False}, headers=dispatcher
    )
    assert r.status_code == 200 and r.json()["public_id"] is None
    assert client.get(f"/open311/v2/media/{door.public_id}").status_code == 404
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["media_url"] is None


def test_status_page_shows_only_publishable_photos_by_public_id(client, db, bearer, api_key, run_triage, settings):
    case_id, number = _handled_case(client, bearer, api_key, run_triage)
    door, drain = _photos(db, settings, case_id)

    def status_page() -> str:
        page = client.get("/portal/events/status")
        r = client.post(
            "/portal/events/status", data={"csrf_token": csrf_from(page.text), "number": number, "phone": PHONE}
        )
        assert r.status_code == 200
        return r.text

    text = status_page()
    assert door.public_id not in text and drain.public_id not in text and "/workspace/events/photos" not in text
    assert (
        client.post(
            f"/api/v1/events/cases/{case_id}/photos/{drain.id}/visibility",
            json={"public": True},
            headers=bearer("dispatcher"),
        ).status_code
        == 200
    )
    text = status_page()
    assert f'src="/open311/v2/media/{drain.public_id}"' in text and door.public_id not in text
    assert "/workspace/events/photos" not in text and f'/open311/v2/media/{drain.id}"' not in text
    _assert_clean(re.sub(r'value="[^"]*"', "", text))


def test_notes_are_public_only_by_staff_decision(client, db, bearer, api_key, run_triage):
    from yiwang.core.masking import redact

    case_id, number = _handled_case(client, bearer, api_key, run_triage, public_reply=False)
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"] is None  # the lead's completion, not ticked: internal (the old rule published it)
    _assert_clean(str(req))
    admin, dispatcher = bearer("admin"), bearer("dispatcher")
    steps = {a["action"]: a for a in client.get(f"/api/v1/events/cases/{case_id}", headers=admin).json()["timeline"]}
    assert not any(a["public"] for a in steps.values())
    complete, supervise = steps["complete"]["id"], steps["supervise"]["id"]
    url = f"/api/v1/events/cases/{case_id}/notes/{{}}/visibility"
    # a handler does not publish afterwards (she ticks the box when she records the step)
    assert client.post(url.format(complete), json={"public": True}, headers=bearer("waterhandler")).status_code == 403
    # a supervision note is internal whatever anyone ticks: later, or in the step itself
    r = client.post(url.format(supervise), json={"public": True}, headers=dispatcher)
    assert r.status_code == 422 and r.json()["field"] == "public", r.text
    r = client.post(
        f"/api/v1/events/cases/{case_id}/supervise",
        json={"note": INTERNAL_SUPERVISE, "public": True},
        headers=bearer("supervisor"),
    )
    assert r.status_code == 422, r.text
    before = _last_audit_id(db)
    r = client.post(url.format(complete), json={"public": True}, headers=dispatcher)
    assert r.status_code == 200 and r.json() == {"id": complete, "action": "complete", "public": True}
    assert _audited(db, "events.case.note_public", before) == [
        {"action_id": complete, "step": "complete", "from": False, "public": True}
    ]
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"] == redact(INTERNAL_REPLY) == "内部：已处理，经办人手机135****4444"
    _assert_clean(str(req))
    assert client.post(url.format(complete), json={"public": False}, headers=dispatcher).status_code == 200
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"] is None
    # a step of another case, or none: 404
    assert client.post(url.format(10**9), json={"public": True}, headers=dispatcher).status_code == 404


def test_the_box_on_the_case_page_makes_a_note_public(client, db, bearer, api_key, run_triage, login_as):
    r = client.post(
        "/open311/v2/requests.json",
        data={"api_key": api_key, "service_code": DRAIN, "description": REPORT, "phone": PHONE, **POINT},
    )
    number = r.json()[0]["service_request_id"]
    case_id = int(number[8:])
    run_triage()
    dispatcher = login_as("dispatcher")
    page = dispatcher.get(f"/workspace/events/cases/{case_id}")
    assert page.status_code == 200 and 'name="public" value="1"' in page.text
    token = csrf_from(page.text)
    r = dispatcher.post(
        f"/workspace/events/cases/{case_id}/step/dispatch",
        follow_redirects=False,
        data={"csrf_token": token, "version": str(db.get(Case, case_id).version), "note": INTERNAL_DISPATCH},
    )
    assert r.status_code == 303, r.text
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"] is None  # not ticked
    r = dispatcher.post(
        f"/workspace/events/cases/{case_id}/step/supervise",
        data={"csrf_token": token, "note": INTERNAL_SUPERVISE, "public": "1"},
    )
    assert r.status_code == 422
    assert INTERNAL_SUPERVISE not in client.get(f"/open311/v2/requests/{number}.json").text
    handler = login_as("waterhandler")
    page = handler.get(f"/workspace/events/cases/{case_id}")
    db.expire_all()
    r = handler.post(
        f"/workspace/events/cases/{case_id}/step/complete",
        follow_redirects=False,
        data={
            "csrf_token": csrf_from(page.text),
            "version": str(db.get(Case, case_id).version),
            "note": PUBLIC_REPLY,
            "public": "1",
        },
    )
    assert r.status_code == 303, r.text
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"].startswith("已疏通，恢复通畅") and "136****3333" in req["status_notes"]
    _assert_clean(str(req))
    # the dispatcher takes it back from the case page (audited like the API)
    page = dispatcher.get(f"/workspace/events/cases/{case_id}")
    done = db.execute(select(Action.id).where(Action.case_id == case_id, Action.action == "complete")).scalar_one()
    assert f"/notes/{done}/visibility" in page.text
    r = dispatcher.post(
        f"/workspace/events/cases/{case_id}/notes/{done}/visibility",
        follow_redirects=False,
        data={"csrf_token": csrf_from(page.text), "public": "0"},
    )
    assert r.status_code == 303, r.text
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["status_notes"] is None


def test_migration_gives_existing_photos_unguessable_ids_and_publishes_nothing(tmp_path):
    """0304 on a database that already holds a case, a public-looking step and photos."""
    import datetime as dt

    from sqlalchemy import MetaData, insert

    from helpers import new_database
    from yiwang.core import db as core_db
    from yiwang.events.queries import PUBLIC_ID

    database = new_database(tmp_path)
    engine = core_db.make_engine(database.url)
    try:
        core_db.upgrade(engine, "0303_events_constraints")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        case = {
            "id": 1,
            "token": "t" * 32,
            "source": "passive",
            "channel": "portal",
            "status": "closed",
            "description": REPORT,
            "priority": 3,
            "triage_status": "done",
            "needs_human": False,
            "photos": 2,
            "is_joint": False,
            "created_at": now,
            "warn_level": "green",
            "escalation_level": 0,
            "reopen_count": 0,
            "return_count": 0,
            "supervise_count": 0,
            "updated_at": now,
            "version": 1,
        }
        reflected = MetaData()
        reflected.reflect(engine, only=["events_cases", "events_actions", "events_attachments"])
        with engine.begin() as conn:
            conn.execute(insert(reflected.tables["events_cases"]), case)
            conn.execute(
                insert(reflected.tables["events_actions"]),
                {"id": 1, "case_id": 1, "at": now, "action": "close", "to_status": "closed", "note": PUBLIC_REPLY},
            )
            conn.execute(
                insert(reflected.tables["events_attachments"]),
                [
                    {
                        "id": i,
                        "case_id": 1,
                        "action_id": 1,
                        "path": f"events/x{i}.png",
                        "mime": "image/png",
                        "size": 1,
                        "width": 1,
                        "height": 1,
                        "sm3": "0" * 64,
                        "created_at": now,
                    }
                    for i in (1, 2)
                ],
            )
        core_db.upgrade(engine)
        with engine.connect() as conn:
            photos = conn.execute(select(Attachment.public_id, Attachment.publishable)).all()
            notes = conn.execute(select(Action.public)).scalars().all()
        assert len(photos) == 2 and all(PUBLIC_ID.fullmatch(p) and not pub for p, pub in photos)
        assert photos[0][0] != photos[1][0]
        assert notes == [False]  # the old rule made a closing note public; now only a decision does
    finally:
        engine.dispose()
        database.drop()


def test_lean_front_refusals_do_not_echo_personal_data(client, api_key):
    r = client.post(
        "/open311/v2/requests.json", data={"api_key": "wrong", "service_code": DRAIN, "description": REPORT, **POINT}
    )
    assert r.status_code == 403
    _assert_clean(r.text)
    r = client.post(
        "/api/v1/events/intake",
        content=f'{{"description": "{REPORT}", "source_ref": "x"}}'.encode(),
        headers={"content-type": "application/json", "x-api-key": "wrong"},
    )
    assert r.status_code in (401, 403, 422), r.text
    _assert_clean(r.text)
