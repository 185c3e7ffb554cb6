"""The quarantine workbench: read with a reason (audited), fix in place, export, import, resubmit."""

from __future__ import annotations

import csv
import io

from lake_helpers import people, volunteers_csv
from sqlalchemy import select

from helpers import csrf_from
from yiwang import lake
from yiwang.core.audit import AuditEntry, Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file, jobs
from yiwang.governance.models import QuarantineFix


def _bad_load(factory, settings, tmp_path, start):
    rows = people(6, start=start)
    rows[1] = (rows[1][0], rows[1][1][:-1] + ("0" if rows[1][1][-1] != "0" else "1"), rows[1][2], 5)  # bad check digit
    rows[3] = (rows[3][0], rows[3][1], "12345", 5)  # not a mobile number
    return ingest_file(
        factory,
        settings=settings,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / f"q{start}.csv", rows),
        origin=Origin("t"),
    ), rows


def test_fix_and_resubmit_through_the_same_rules(lake_install, lake_factory, tmp_path, signed_in):
    load, rows = _bad_load(lake_factory, lake_install, tmp_path, 7000)
    assert load.rows_quarantined == 2 and load.quarantine_by_rule == {"resident_id": 1, "mobile": 1}
    c = signed_in("officer")
    base = "/api/v1/governance/resources/volunteers/quarantine"
    assert c.get(f"{base}?load_id={load.id}").status_code == 422  # no reason: personal data
    listed = c.get(f"{base}?load_id={load.id}&reason=修正11月志愿者数据").json()
    assert listed["total"] == 2
    by_line = {r["line"]: r for r in listed["rows"]}
    only_mobile = c.get(f"{base}?load_id={load.id}&rule=mobile&column=联系电话&reason=修正11月志愿者数据").json()
    assert [r["line"] for r in only_mobile["rows"]] == [5]
    assert by_line[3]["rule"] == "resident_id" and by_line[3]["column"] == "公民身份号码"
    assert by_line[3]["value"] == rows[1][1] and by_line[5]["rule"] == "mobile"
    token = csrf_from(c.get("/workspace/governance").text)
    fixed = c.post(
        f"{base}/fixes",
        json={"load_id": load.id, "line": 5, "values": {"联系电话": "13912345678"}, "reason": "电话号码录入错误"},
        headers={"X-CSRF-Token": token},
    )
    assert fixed.status_code == 200, fixed.text
    bad = c.post(
        f"{base}/fixes",
        json={"load_id": load.id, "line": 5, "values": {"不存在": "x"}, "reason": "错误测试"},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422
    queued = c.post(f"{base}/resubmit", json={}, headers={"X-CSRF-Token": token})
    assert queued.status_code == 202 and queued.json()["origin"] == "resubmit"
    with lake_factory() as session:
        claimed = jobs.claim(session, worker="test")
    jobs.run_claimed(lake_factory, lake_install, claimed.id)
    done = c.get(f"/api/v1/governance/loads/{claimed.id}").json()
    assert done["status"] == "committed" and done["rows_accepted"] == 1 and done["mode"] == "upsert"
    clean = lake.lake_for(lake_install).sql(f"SELECT 联系电话 FROM clean.volunteers WHERE _load_id = '{claimed.id}'")
    assert clean.column(0).to_pylist() == ["13912345678"]
    with lake_factory() as session:
        fix = session.execute(select(QuarantineFix).where(QuarantineFix.load_id == load.id)).scalar_one()
        assert fix.status == "resolved" and fix.resubmit_load_id == claimed.id
        reads = (
            session.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "personal.read", AuditEntry.reason == "修正11月志愿者数据"
                )
            )
            .scalars()
            .all()
        )
        assert reads
    still_open = c.get(f"{base}?load_id={load.id}&reason=修正11月志愿者数据").json()
    assert [r["line"] for r in still_open["rows"]] == [3]  # nothing dropped: the other row waits


def test_export_fix_and_import_csv(lake_install, lake_factory, tmp_path, signed_in):
    load, _rows = _bad_load(lake_factory, lake_install, tmp_path, 7100)
    c = signed_in("admin")
    base = "/api/v1/governance/resources/volunteers/quarantine"
    exported = c.get(f"{base}.csv?load_id={load.id}&reason=导出修正")
    assert exported.status_code == 200 and exported.text.startswith("\ufeff_load_id,_line")
    records = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    header, body = records[0], records[1:]
    assert len(body) == 2
    for record in body:
        if record[header.index("_rule")] == "mobile":
            record[header.index("联系电话")] = "13700001111"
    out = io.StringIO()
    csv.writer(out).writerows([header, *body])
    token = csrf_from(c.get("/workspace/governance").text)
    r = c.post(
        f"{base}/import?reason=导入修正&filename=fixed.csv",
        content=out.getvalue().encode("utf-8-sig"),
        headers={"X-CSRF-Token": token, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json() == {"fixed": 2}
    broken = out.getvalue().replace("联系电话", "手机")
    r = c.post(
        f"{base}/import?reason=导入修正&filename=fixed.csv",
        content=broken.encode(),
        headers={"X-CSRF-Token": token, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["line"] == 1 and r.json()["column"] == "手机"


def test_quarantine_page_needs_a_reason_and_shows_rows(lake_install, lake_factory, tmp_path, signed_in):
    load, _rows = _bad_load(lake_factory, lake_install, tmp_path, 7200)
    c = signed_in("officer")
    page = c.get("/workspace/governance/volunteers/quarantine")
    assert page.status_code == 200 and 'id="reason-needed"' in page.text
    page = c.get(f"/workspace/governance/volunteers/quarantine?reason=核对数据&load_id={load.id}")
    assert page.status_code == 200 and page.text.count('class="fix-form"') == 2
    token = csrf_from(page.text)
    r = c.post(
        "/workspace/governance/volunteers/quarantine/fix",
        data={"csrf_token": token, "load_id": load.id, "line": "5", "reason": "核对数据", "action": "discard"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and 'data-fix="ok"' in r.text
