"""Statistics and the plan's indicators, computed over the cases in the caller's scope.

One query fetches the period's cases as columns; polars does the grouping (a year of a
city's cases is a few tens of thousands of rows). Times are in hours (response: dispatch →
first department response; handling: dispatch → handled) and the joint-case indicator in
days, as the plan states it (跨部门联动决策响应时间, target ≤ 0.5 day).

- On-time closure rate: closed cases handled by their handling deadline / closed cases.
- 跨部门联动决策响应时间: for joint cases (a lead and assisting departments), the time from
  立案 until every involved department has responded (signed for its task), averaged.
- 一网统管城市管理事项覆盖率: catalog matters handled on the platform (a category with a
  handling department) / matters in the city's management catalog (``event_city_catalog.csv``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import polars as pl
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.errors import Invalid
from yiwang.core.i18n import _
from yiwang.core.security import Actor
from yiwang.core.web import LOCAL_TZ
from yiwang.events import roles
from yiwang.events.models import Case, Task
from yiwang.events.queries import CLOSED_STATUSES, case_scope, departments, propose
from yiwang.events.triage import load_taxonomy
from yiwang.events.triage.taxonomy import DATA_DIR

PERIODS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}
CATALOG_CSV = DATA_DIR / "event_city_catalog.csv"
COLUMNS = (
    "id",
    "category_code",
    "town_code",
    "source",
    "channel",
    "status",
    "department_id",
    "created_at",
    "registered_at",
    "dispatched_at",
    "first_response_at",
    "handled_at",
    "closed_at",
    "closed_on_time",
    "rating",
    "is_joint",
)


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @property
    def label(self) -> str:
        last = (self.end - dt.timedelta(seconds=1)).astimezone(LOCAL_TZ)
        return f"{self.start.astimezone(LOCAL_TZ):%Y-%m-%d} – {last:%Y-%m-%d}"


def period(name: str | None = None, start: dt.date | None = None, end: dt.date | None = None) -> Period:
    """A named period ending now (day, week, month, quarter, year) or explicit dates (end inclusive)."""
    if start or end:
        if not (start and end) or end < start:
            raise Invalid(_("Give a start date and an end date on or after it."), field="start")
        if (end - start).days > 3 * 366:
            raise Invalid(_("Choose at most three years."), field="end")
        s = dt.datetime.combine(start, dt.time(), tzinfo=LOCAL_TZ)
        e = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=LOCAL_TZ)
        return Period(s.astimezone(dt.UTC), e.astimezone(dt.UTC))
    days = PERIODS.get(name or "year")
    if days is None:
        raise Invalid(_("Unknown period %(p)s.", p=str(name)[:20]), field="period")
    now = db.utcnow()
    return Period(now - dt.timedelta(days=days), now)


def _frame(session: Session, actor: Actor, p: Period) -> pl.DataFrame:
    cols = [getattr(Case, c) for c in COLUMNS]
    rows = session.execute(
        select(*cols).where(case_scope(actor), Case.created_at >= p.start, Case.created_at < p.end)
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=list(COLUMNS), orient="row", infer_schema_length=None)


def _hours(df: pl.DataFrame, a: str, b: str) -> pl.Expr:
    return (pl.col(b) - pl.col(a)).dt.total_seconds() / 3600.0


def _mean(value) -> float | None:
    return None if value is None else round(float(value), 2)


def catalog() -> list[dict]:
    with CATALOG_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def coverage(session: Session) -> dict:
    items = catalog()
    codes = {c.code for c in load_taxonomy()}
    handled = [
        i for i in items if i["category_code"] in codes and propose(session, i["category_code"], None).department_id
    ]
    return {
        "handled": len(handled),
        "catalog": len(items),
        "rate": round(len(handled) / len(items), 4) if items else 0.0,
        "missing": [i["name"] for i in items if i not in handled],
    }


def joint_response_days(session: Session, actor: Actor, p: Period) -> dict:
    cases = select(Case.id).where(
        case_scope(actor), Case.is_joint.is_(True), Case.registered_at >= p.start, Case.registered_at < p.end
    )
    rows = session.execute(
        select(Task.case_id, Task.accepted_at, Case.registered_at)
        .join(Case, Case.id == Task.case_id)
        .where(Task.case_id.in_(cases), Task.status != "cancelled")
    ).all()
    if not rows:
        return {"cases": 0, "days": None, "target": 0.5}
    df = pl.DataFrame([tuple(r) for r in rows], schema=["case_id", "accepted_at", "registered_at"], orient="row")
    per_case = df.group_by("case_id").agg(
        pl.col("accepted_at").null_count().alias("waiting"),
        pl.col("accepted_at").max().alias("last"),
        pl.col("registered_at").first().alias("registered"),
    )
    done = per_case.filter(pl.col("waiting") == 0)
    days = done.select(((pl.col("last") - pl.col("registered")).dt.total_seconds() / 86400).mean()).item()
    return {
        "cases": done.height,
        "waiting": per_case.height - done.height,
        "days": _mean(days),
        "target": 0.5,
        "met": days is not None and days <= 0.5,
    }


def kpis(session: Session, *, actor: Actor, p: Period | None = None) -> dict:
    """Volumes, times, on-time rate, satisfaction, ranking and the plan's indicators for a period."""
    actor.require(roles.STATS)
    p = p or period("year")
    df = _frame(session, actor, p)
    tax = load_taxonomy()
    depts = departments(session)
    out: dict = {"period": {"start": p.start, "end": p.end, "label": p.label}, "total": df.height}
    if df.height == 0:
        out.update(
            by_category=[],
            by_major=[],
            by_town=[],
            by_source=[],
            by_channel=[],
            by_month=[],
            by_status=[],
            on_time_rate=None,
            response_hours=None,
            handling_hours=None,
            satisfaction=None,
            satisfied_share=None,
            departments=[],
            closed=0,
            open=0,
        )
    else:
        closed = df.filter(pl.col("status").is_in(["closed", "rated"]))
        names = {c.code: (c.name, c.major_name, c.kind) for c in tax}
        towns = {t.code: t.name for t in org.geo.towns()}
        by_cat = df.group_by("category_code").len().sort("len", descending=True)
        out["by_category"] = [
            {"code": c, "name": names.get(c, ("未分类", "", ""))[0], "count": n} for c, n in by_cat.iter_rows()
        ]
        majors: dict[str, int] = {}
        for row in out["by_category"]:
            major = names.get(row["code"], ("", "未分类", ""))[1] or "未分类"
            majors[major] = majors.get(major, 0) + row["count"]
        out["by_major"] = [{"name": k, "count": v} for k, v in sorted(majors.items(), key=lambda kv: -kv[1])]
        out["by_town"] = [
            {"code": c, "name": towns.get(c, "未定位"), "count": n}
            for c, n in df.group_by("town_code").len().sort("len", descending=True).iter_rows()
        ]
        out["by_source"] = [
            {"source": s, "count": n} for s, n in df.group_by("source").len().sort("source").iter_rows()
        ]
        out["by_channel"] = [
            {"channel": s, "count": n} for s, n in df.group_by("channel").len().sort("len", descending=True).iter_rows()
        ]
        out["by_status"] = [
            {"status": s, "count": n} for s, n in df.group_by("status").len().sort("status").iter_rows()
        ]
        month = df.with_columns(
            pl.col("created_at").dt.convert_time_zone("Asia/Shanghai").dt.strftime("%Y-%m").alias("month")
        )
        out["by_month"] = [{"month": m, "count": n} for m, n in month.group_by("month").len().sort("month").iter_rows()]
        out["closed"] = closed.height
        out["open"] = df.filter(~pl.col("status").is_in(list(CLOSED_STATUSES))).height
        on_time = closed.select(pl.col("closed_on_time").cast(pl.Float64).mean()).item() if closed.height else None
        out["on_time_rate"] = None if on_time is None else round(on_time, 4)
        out["response_hours"] = _mean(df.select(_hours(df, "dispatched_at", "first_response_at").mean()).item())
        out["handling_hours"] = _mean(df.select(_hours(df, "dispatched_at", "handled_at").mean()).item())
        rated = df.filter(pl.col("rating").is_not_null())
        out["satisfaction"] = _mean(rated.select(pl.col("rating").mean()).item()) if rated.height else None
        out["satisfied_share"] = (
            round(rated.filter(pl.col("rating") >= 4).height / rated.height, 4) if rated.height else None
        )
        ranking = (
            df.filter(pl.col("department_id").is_not_null())
            .group_by("department_id")
            .agg(
                pl.len().alias("cases"),
                pl.col("status").is_in(["closed", "rated"]).sum().alias("closed"),
                pl.col("closed_on_time").cast(pl.Float64).mean().alias("on_time"),
                _hours(df, "dispatched_at", "handled_at").mean().alias("handling_hours"),
                pl.col("rating").mean().alias("satisfaction"),
            )
            .sort(["on_time", "cases"], descending=[True, True], nulls_last=True)
        )
        out["departments"] = [
            {
                "id": d,
                "name": depts[d].name if d in depts else str(d),
                "cases": c,
                "closed": cl,
                "on_time_rate": None if ot is None else round(ot, 4),
                "handling_hours": _mean(h),
                "satisfaction": _mean(s),
            }
            for d, c, cl, ot, h, s in ranking.iter_rows()
        ]
    out["joint_response"] = joint_response_days(session, actor, p)
    out["coverage"] = coverage(session)
    return out


def export_xlsx(session: Session, *, actor: Actor, p: Period, origin: Origin) -> bytes:
    """The statistics as a workbook, one sheet per table; the export is audited."""
    data = kpis(session, actor=actor, p=p)
    wb = Workbook(write_only=True)
    summary = wb.create_sheet(_("Summary"))
    summary.append([_("Indicator"), _("Value")])
    for label, value in [
        (_("Period"), data["period"]["label"]),
        (_("Cases"), data["total"]),
        (_("Closed"), data.get("closed")),
        (_("On-time closure rate"), data.get("on_time_rate")),
        (_("Average response (hours)"), data.get("response_hours")),
        (_("Average handling (hours)"), data.get("handling_hours")),
        (_("Satisfaction (1-5)"), data.get("satisfaction")),
        (_("Joint-case response time (days)"), data["joint_response"]["days"]),
        (_("City management coverage"), data["coverage"]["rate"]),
    ]:
        summary.append([label, value])
    for title, key, fields in [
        (_("By category"), "by_category", ("code", "name", "count")),
        (_("By town"), "by_town", ("code", "name", "count")),
        (_("By source"), "by_source", ("source", "count")),
        (_("By channel"), "by_channel", ("channel", "count")),
        (_("By month"), "by_month", ("month", "count")),
        (
            _("Department ranking"),
            "departments",
            ("name", "cases", "closed", "on_time_rate", "handling_hours", "satisfaction"),
        ),
    ]:
        ws = wb.create_sheet(title)
        ws.append(list(fields))
        for row in data.get(key) or []:
            ws.append([row.get(f) for f in fields])
    buf = io.BytesIO()
    wb.save(buf)
    audit.record(
        session,
        actor=actor,
        action="events.stats.export",
        target_type="events_stats",
        origin=origin,
        detail={"period": data["period"]["label"], "cases": data["total"]},
    )
    db.commit(session)
    return buf.getvalue()
