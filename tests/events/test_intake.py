"""Intake from the three sources: portal form with photos, grid workers' reports, machine alarms,
the 12345 hotline (CSV, XLSX, API) — and the bad input each must refuse."""

import io

from ev_helpers import OUTSIDE, POINT, jpeg_bytes, png_bytes
from openpyxl import Workbook
from sqlalchemy import func, select

from helpers import csrf_from
from yiwang.core.audit import AuditEntry
from yiwang.events.models import Attachment, Case


def _count(db, model=Case, *where) -> int:
    return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _failed(db, action: str) -> int:
    return _count(db, AuditEntry, AuditEntry.action == action, AuditEntry.outcome == "failed")


def test_portal_report_with_photos_and_a_double_submission(client, db, settings):
    page = client.get("/portal/events/report")
    assert page.status_code == 200 and "向城市反映问题" in page.text
    token = csrf_from(page.text)
    key = page.text.split('name="form_key" value="')[1].split('"')[0]
    form = {
        "csrf_token": token,
        "form_key": key,
        "description": "亭林社区3号楼门口下水道堵了，污水漫到路上",
        "address": "亭林社区3号楼",
        "phone": "13912345678",
        "name": "张先生",
    }
    files = [("photos", ("a.png", png_bytes(), "image/png")), ("photos", ("b.jpg", jpeg_bytes(), "image/jpeg"))]
    r = client.post("/portal/events/report", data=form, files=files)
    assert r.status_code == 201 and "感谢您的反映" in r.text
    number = r.text.split('id="new-number"')[1].split(">")[1].split("<")[0]
    case = db.get(Case, int(number[8:]))
    assert case.channel == "portal" and case.source == "passive" and case.photos == 2
    assert case.region_code == "320583100002" and case.reporter_phone == "13912345678"
    atts = db.execute(select(Attachment).where(Attachment.case_id == case.id)).scalars().all()
    assert {a.mime for a in atts} == {"image/png", "image/jpeg"} and all(len(a.sm3) == 64 for a in atts)
    assert all((settings.home_path / "uploads" / a.path).is_file() for a in atts)
    again = client.post("/portal/events/report", data=form, files=files)
    assert again.status_code == 409 and number in again.text  # the same form twice: one case
    assert _count(db, Case, Case.idem_key == f"form:{key}") == 1


def test_portal_refuses_fake_and_oversized_images_and_missing_phone(client, db):
    page = client.get("/portal/events/report")
    token = csrf_from(page.text)
    base = {"csrf_token": token, "description": "路灯不亮", "address": "亭林社区", "phone": "13912345678"}
    before = _count(db)
    fake = client.post(
        "/portal/events/report",
        data={**base, "form_key": "k1"},
        files={"photos": ("evil.jpg", b"<?php system($_GET['c']); ?>" * 10, "image/jpeg")},
    )
    assert fake.status_code == 415 and "不是 JPEG、PNG 或 WebP 图片" in fake.text
    big = client.post(
        "/portal/events/report",
        data={**base, "form_key": "k2"},
        files={"photos": ("big.png", png_bytes() + b"\0" * (9 * 1024 * 1024), "image/png")},
    )
    assert big.status_code == 413
    seven = client.post(
        "/portal/events/report",
        data={**base, "form_key": "k3"},
        files=[("photos", (f"{i}.png", png_bytes(), "image/png")) for i in range(7)],
    )
    assert seven.status_code == 422 and "最多 6 张" in seven.text
    nophone = client.post("/portal/events/report", data={**base, "phone": "", "form_key": "k4"})
    assert nophone.status_code == 422 and "手机号" in nophone.text
    nowhere = client.post("/portal/events/report", data={**base, "address": "", "form_key": "k5"})
    assert nowhere.status_code == 422 and "位置" in nowhere.text
    outside = client.post("/portal/events/report", data={**base, "address": "", "form_key": "k6", **OUTSIDE})
    assert outside.status_code == 422 and "不在昆山市范围内" in outside.text
    assert _count(db) == before  # nothing stored
    assert _failed(db, "events.report_rejected") == 6  # and each refusal audited


def test_grid_worker_reports_only_inside_the_grid(client, bearer, db):
    from yiwang.events.locate import locator

    grid = "32058310000201"  # 刘芳's grid
    lng, lat = locator(db).point_of(grid)
    headers = bearer("grid")
    r = client.post(
        "/api/v1/events/cases",
        headers=headers,
        json={"description": "楼道里堆满了纸箱，堵住了消防通道", "category_code": "200111", "lat": lat, "long": lng},
    )
    assert r.status_code == 201, r.text
    case = db.get(Case, r.json()["id"])
    assert (case.source, case.channel, case.region_code) == ("active", "grid", grid)
    far = client.post(
        "/api/v1/events/cases",
        headers=headers,
        json={"description": "垃圾桶满了", "lat": POINT["lat"] + 0.05, "long": POINT["long"]},
    )
    assert far.status_code == 422 and far.json()["code"] == "outside_region"
    long_text = client.post(
        "/api/v1/events/cases", headers=headers, json={"description": "堵" * 6000, "lat": lat, "long": lng}
    )
    assert long_text.status_code == 413
    ten_mb = client.post(
        "/api/v1/events/cases",
        headers=headers,
        content=b'{"description": "' + b"x" * (10 * 1024 * 1024) + b'"}',
    )
    assert ten_mb.status_code == 413 and "KB" in ten_mb.json()["detail"]
    assert client.post("/api/v1/events/cases", headers=headers, json={"descr": "x"}).status_code == 422
    assert _count(db, AuditEntry, AuditEntry.action == "events.input_rejected") >= 1


def test_machine_alarm_opens_a_case_and_clears_it(client, api_key, db, run_triage):
    alarm = {
        "channel": "iot",
        "source_ref": "wl-0381",
        "description": "积水监测点水位超过 20 厘米告警",
        "category_code": "200406",
        **POINT,
    }
    r = client.post("/api/v1/events/intake", headers={"X-API-Key": api_key}, json=alarm)
    assert r.status_code == 201, r.text
    again = client.post("/api/v1/events/intake", headers={"X-API-Key": api_key}, json=alarm)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]  # the same alarm re-sent: one case
    assert client.post("/api/v1/events/intake", json=alarm).status_code == 403
    bad = client.post("/api/v1/events/intake", headers={"X-API-Key": api_key}, json={**alarm, "channel": "fax"})
    assert bad.status_code == 422
    run_triage()
    case = db.get(Case, r.json()["id"])
    assert (case.source, case.channel, case.client, case.status) == ("automatic", "iot", "test-client", "registered")
    cleared = client.post(
        "/api/v1/events/intake/clear",
        headers={"X-API-Key": api_key},
        json={"source_ref": "wl-0381", "note": "水位已回落"},
    )
    assert cleared.status_code == 200 and cleared.json()["closed"] == [case.id]
    db.refresh(case)
    assert case.status == "closed" and case.closed_at is not None


def _xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_hotline_import_csv_xlsx_and_api(client, bearer, db):
    headers = bearer("dispatcher")
    csv_text = (
        "工单编号,来电时间,来电人,联系电话,诉求内容,地址\n"
        "H2026-001,2026-11-20 09:15,王女士,13800001111,小区门口路灯坏了好几天晚上很黑,亭林社区\n"
        "H2026-002,2026-11-20 10:02,李先生,13800002222,,前进西路\n"
        "H2026-003,2026-11-20 10:30,赵先生,123,马路上有个井盖不见了,人民南路\n"
    )
    r = client.post(
        "/api/v1/events/hotline/import",
        headers=headers,
        files={"file": ("12345.csv", csv_text.encode("gb18030"), "text/csv")},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["accepted"], len(body["rejected"])) == (3, 1, 2)
    assert {x["row"] for x in body["rejected"]} == {3, 4} and "手机号" in body["rejected"][1]["message"]
    case = db.get(Case, body["case_ids"][0])
    assert case.channel == "hotline" and case.external_id == "H2026-001" and case.created_at.day == 20
    again = client.post(
        "/api/v1/events/hotline/import",
        headers=headers,
        files={"file": ("12345.csv", csv_text.encode("utf-8"), "text/csv")},
    ).json()
    assert (again["accepted"], again["already"]) == (0, 1)
    xlsx = _xlsx([["工单编号", "诉求内容", "地址"], ["H2026-101", "店门口摆满了桌子在吃烧烤，油烟很大", "巴城老街"]])
    r = client.post(
        "/api/v1/events/hotline/import",
        headers=headers,
        files={"file": ("12345.xlsx", xlsx, "application/octet-stream")},
    )
    assert r.json()["accepted"] == 1
    garbage = client.post(
        "/api/v1/events/hotline/import",
        headers=headers,
        files={"file": ("12345.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")},
    )
    assert garbage.status_code == 422
    api = client.post(
        "/api/v1/events/hotline/records",
        headers=headers,
        json={
            "records": [
                {"record_no": "H2026-201", "content": "楼下饭店油烟直排", "address": "亭林社区", "phone": "13800003333"}
            ]
        },
    )
    assert api.status_code == 200 and api.json()["accepted"] == 1
    assert (
        client.post(
            "/api/v1/events/hotline/records",
            headers=bearer("handler"),
            json={"records": [{"record_no": "x", "content": "y"}]},
        ).status_code
        == 403
    )
    imports = db.execute(select(AuditEntry.detail).where(AuditEntry.action == "events.hotline.import")).scalars().all()
    assert len(imports) == 4 and '"rejected":2' in imports[0]
