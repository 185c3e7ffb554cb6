"""Statistics over the seeded history: volumes, on-time rate, times, satisfaction, ranking, the plan's
two indicators, XLSX export, and the caller's scope."""

import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from yiwang.core.audit import AuditEntry
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.events import kpis, period
from yiwang.events.models import Case


def test_year_of_history_gives_meaningful_numbers(db):
    k = kpis(db, actor=SYSTEM_ACTOR, p=period("year"))
    stored = db.execute(select(func.count()).select_from(Case)).scalar()
    assert k["total"] == stored >= 2500
    assert sum(x["count"] for x in k["by_category"]) == k["total"] == sum(x["count"] for x in k["by_town"])
    assert {x["source"] for x in k["by_source"]} == {"passive", "active", "automatic"}
    assert 0.8 < k["on_time_rate"] < 0.98
    assert 0 < k["response_hours"] < k["handling_hours"]
    assert 4.0 < k["satisfaction"] < 5.0 and 0.7 < k["satisfied_share"] <= 1
    assert len(k["by_month"]) >= 12 and k["by_category"][0]["name"] == "机动车乱停放"
    ranking = k["departments"]
    assert len(ranking) >= 8 and ranking[0]["on_time_rate"] >= ranking[-1]["on_time_rate"]
    joint = k["joint_response"]
    assert joint["cases"] > 20 and 0 < joint["days"] < 1.5 and joint["target"] == 0.5
    cov = k["coverage"]
    assert (cov["handled"], cov["catalog"]) == (43, 51) and "占道洗车" in cov["missing"]


def test_seasons_show_in_the_categories(db):
    rows = db.execute(select(Case.created_at).where(Case.category_code == "200406")).scalars().all()  # 道路积水
    summer = sum(1 for r in rows if r.month in (6, 7, 8, 9))
    assert summer > len(rows) / 2


def test_statistics_follow_the_callers_scope(client, bearer):
    city = client.get("/api/v1/events/stats", headers=bearer("dispatcher")).json()
    town = client.get("/api/v1/events/stats", headers=bearer("town")).json()
    assert 0 < town["total"] < city["total"]
    assert {x["code"] for x in town["by_town"]} == {"320583100"}
    assert client.get("/api/v1/events/stats", headers=bearer("handler")).status_code == 403
    assert client.get("/api/v1/events/stats?period=decade", headers=bearer("dispatcher")).status_code == 422
    r = client.get("/api/v1/events/stats?start=2026-01-01&end=2026-03-31", headers=bearer("leader"))
    assert r.status_code == 200 and r.json()["period"]["label"].startswith("2026-01-01")


def test_xlsx_export_is_a_workbook_and_audited(client, bearer, db):
    r = client.get("/api/v1/events/stats.xlsx?period=quarter", headers=bearer("dispatcher"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    assert {"汇总", "按类别", "按区镇", "按来源", "按月份", "部门排名"} <= set(wb.sheetnames)
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["案件数"] > 0 and 0 < summary["按期结案率"] <= 1
    assert (
        db.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "events.stats.export")
        ).scalar()
        == 1
    )
