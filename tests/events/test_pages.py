"""The workbenches and public pages, per role: what each sees, in Chinese, within scope."""

import re

from ev_helpers import POINT
from sqlalchemy import func, select

from helpers import csrf_from
from yiwang.core.audit import AuditEntry
from yiwang.events.models import Case


def test_dispatcher_workbench_lists_filters_and_maps(as_role):
    page = as_role["admin"].get("/workspace/events")
    assert page.status_code == 200
    for text in ("指挥调度", "已受理待立案", "待人工研判", "在办案件分布", "批量派遣至建议部门"):
        assert text in page.text, text
    assert 'id="case-map"' in page.text
    town = as_role["admin"].get("/workspace/events/cases?town=320583101&status=closed")
    towns = re.findall(r"<td>(\S+镇|\S+区)</td>", town.text)
    assert towns and set(towns) == {"巴城镇"}


def test_town_worker_sees_only_the_town(as_role):
    page = as_role["town_worker"].get("/workspace/events/cases")
    assert page.status_code == 200
    towns = set(re.findall(r"<td>(\S+镇|\S+区)</td>", page.text))
    assert towns == {"玉山镇"}
    assert as_role["town_worker"].get("/workspace/events").status_code == 403  # the workbench is the dispatcher's


def test_citizen_cannot_open_the_workspace_but_can_report(as_role, client):
    assert as_role["citizen"].get("/workspace/events/cases").status_code == 403
    assert client.get("/portal/events/report").status_code == 200
    assert client.get("/portal/events/status").status_code == 200


def test_handler_queue_supervisor_view_and_stats_page(as_role):
    tasks = as_role["case_handler"].get("/workspace/events/tasks")
    assert tasks.status_code == 200 and "部门待办" in tasks.text and "昆山市城市管理局" in tasks.text
    overdue = as_role["admin"].get("/workspace/events/overdue")
    assert overdue.status_code == 200 and "超时（红灯）" in overdue.text
    stats = as_role["leader"].get("/workspace/events/stats")
    assert stats.status_code == 200
    for text in ("按期结案率", "跨部门联动决策响应时间", "一网统管城市管理事项覆盖率", "部门排名", "导出 XLSX"):
        assert text in stats.text, text


def test_case_page_masks_the_reporter_until_a_reason_is_given(as_role, client, api_key, db, run_triage):
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "200404",
            "description": "下水道堵了",
            "phone": "13912345678",
            "first_name": "明",
            "last_name": "张",
            **POINT,
        },
    )
    cid = int(r.json()[0]["service_request_id"][8:])
    run_triage()
    web = as_role["admin"]
    page = web.get(f"/workspace/events/cases/{cid}")
    assert page.status_code == 200 and "139****5678" in page.text and "13912345678" not in page.text
    assert "张*" in page.text and "办理过程" in page.text and "立案" in page.text
    shown = web.post(
        f"/workspace/events/cases/{cid}/personal",
        data={"csrf_token": csrf_from(page.text), "reason": "回访上报人核实位置"},
    )
    assert shown.status_code == 200 and "13912345678" in shown.text
    read = db.execute(
        select(AuditEntry).where(AuditEntry.action == "personal.read", AuditEntry.target_id == str(cid))
    ).scalar_one()
    assert read.reason == "回访上报人核实位置"
    handler = as_role["case_handler"].get(f"/workspace/events/cases/{cid}")
    assert handler.status_code == 403  # not dispatched to 城管


def test_bulk_dispatch_from_the_workbench(as_role, client, api_key, db, run_triage):
    ids = []
    for i in range(3):
        r = client.post(
            "/open311/v2/requests.json",
            data={
                "api_key": api_key,
                "service_code": "100118",
                "description": f"路灯不亮 {i}",
                "lat": POINT["lat"] + 0.003 * i,
                "long": POINT["long"],
            },
        )
        ids.append(int(r.json()[0]["service_request_id"][8:]))
    run_triage()
    web = as_role["admin"]
    page = web.get("/workspace/events?status=registered")
    r = web.post(
        "/workspace/events/bulk-dispatch",
        data={"csrf_token": csrf_from(page.text), "ids": [str(i) for i in ids]},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "已派遣 3 件" in r.text
    assert (
        db.execute(select(func.count()).select_from(Case).where(Case.id.in_(ids), Case.status == "dispatched")).scalar()
        == 3
    )


def test_staff_report_page_and_notifications(as_role, db):
    web = as_role["grid_worker"]
    page = web.get("/workspace/events/report")
    assert page.status_code == 200 and 'id="pick-map"' in page.text and 'capture="environment"' in page.text
    from yiwang.events.locate import locator

    lng, lat = locator(db).point_of("32058310000201")
    r = web.post(
        "/workspace/events/report",
        data={
            "csrf_token": csrf_from(page.text),
            "form_key": "g-1",
            "description": "绿化带里有人扔了很多建筑垃圾",
            "lat": str(lat),
            "long": str(lng),
        },
    )
    assert r.status_code == 201 and "上报成功" in r.text
    notes = as_role["case_handler"].get("/workspace/events/notifications")
    assert notes.status_code == 200 and "消息通知" in notes.text
