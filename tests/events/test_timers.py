"""SLA deadlines on the Chinese working calendar, warning lights, escalation — and two timer ticks
racing on separate connections never escalate a case twice."""

import datetime as dt
import threading

import pytest
from ev_helpers import POINT
from sqlalchemy import func, insert, select

from helpers import new_database
from yiwang.core import audit
from yiwang.core.db import make_engine, make_sessionmaker, upgrade
from yiwang.events import sla, timers
from yiwang.events.models import Action, Case, Notification
from yiwang.events.workcal import SHANGHAI, Duration, HolidaySupplement, TimeUnit

T = dt.timezone(dt.timedelta(hours=8))


def test_step_deadlines_follow_holidays_and_office_hours():
    start = dt.datetime(2025, 9, 30, 9, 5, tzinfo=T)  # the day before the National Day holiday
    step = sla.step(start, Duration(1, TimeUnit.WORKING_DAYS))
    assert step.due_at == dt.datetime(2025, 10, 9, 17, 30, tzinfo=T)
    assert start < step.yellow_at < step.due_at and step.yellow_at.astimezone(T).date() == dt.date(2025, 10, 9)
    hours = sla.step(dt.datetime(2025, 9, 30, 16, 30, tzinfo=T), Duration(3, TimeUnit.WORKING_HOURS))
    assert hours.due_at == dt.datetime(2025, 10, 9, 11, 0, tzinfo=T)
    emergency = sla.step(dt.datetime(2025, 10, 1, 20, 0, tzinfo=T), Duration(2, TimeUnit.NATURAL_HOURS))
    assert emergency.due_at - emergency.started_at == dt.timedelta(hours=2)  # gas leaks do not wait for Monday
    assert sla.level_at(step, step.yellow_at) == ("yellow", 0)
    assert sla.level_at(step, step.due_at) == ("red", 1)
    assert sla.level_at(step, step.second_escalation_at) == ("red", 2)


def test_years_after_the_calendar_count_weekdays_or_the_supplement(caplog):
    cal = sla._LoggedCalendar(unknown_years="weekends")
    friday = dt.datetime(2027, 1, 8, 10, 0, tzinfo=SHANGHAI)
    assert cal.add(friday, Duration(1, TimeUnit.WORKING_DAYS)).date() == dt.date(2027, 1, 11)  # Monday
    supplement = HolidaySupplement.from_rows([(dt.date(2027, 1, 11), "holiday"), (dt.date(2027, 1, 9), "workday")])
    cal2 = sla._LoggedCalendar(unknown_years="weekends", supplement=supplement)
    assert cal2.add(friday, Duration(1, TimeUnit.WORKING_DAYS)).date() == dt.date(2027, 1, 9)  # a 调休 Saturday
    assert cal2.add(friday, Duration(2, TimeUnit.WORKING_DAYS)).date() == dt.date(2027, 1, 12)
    assert sla.calendar().unknown_years == "weekends"  # the platform never refuses a deadline


def _dispatched(client, api_key, bearer, run_triage, db) -> Case:
    r = client.post(
        "/api/v1/events/intake",
        headers={"X-API-Key": api_key},
        json={"source_ref": "timer-1", "description": "自来水管爆了，水一直往外冒", "category_code": "200402", **POINT},
    )
    run_triage()
    client.post(f"/api/v1/events/cases/{r.json()['id']}/dispatch", json={}, headers=bearer("dispatcher"))
    case = db.get(Case, r.json()["id"])
    db.refresh(case)
    return case


def test_tick_turns_yellow_then_red_and_escalates_each_level_once(client, api_key, bearer, run_triage, db):
    case = _dispatched(client, api_key, bearer, run_triage, db)
    assert case.step == "respond" and case.warn_level == "green"
    assert timers.tick(db, now=case.yellow_at + dt.timedelta(seconds=1))["checked"] >= 1
    db.refresh(case)
    assert case.warn_level == "yellow" and case.escalation_level == 0
    counts = timers.tick(db, now=case.due_at + dt.timedelta(minutes=1))
    db.refresh(case)
    assert case.warn_level == "red" and case.escalation_level == 1 and counts["escalated"] >= 1
    assert timers.tick(db, now=case.due_at + dt.timedelta(minutes=2))["escalated"] == 0
    kinds = db.execute(
        select(Notification.role, Notification.department_id).where(
            Notification.case_id == case.id, Notification.kind == "escalate"
        )
    ).all()
    assert ("supervisor", None) in kinds and (None, case.department_id) in kinds
    later = case.due_at + (case.due_at - case.step_started_at) + dt.timedelta(minutes=1)
    timers.tick(db, now=later)
    db.refresh(case)
    assert case.escalation_level == 2 and case.next_check_at is None
    assert ("leader", None) in db.execute(
        select(Notification.role, Notification.department_id).where(
            Notification.case_id == case.id, Notification.kind == "escalate"
        )
    ).all()
    escalations = db.execute(
        select(func.count()).select_from(Action).where(Action.case_id == case.id, Action.action == "escalate")
    ).scalar()
    assert escalations == 2


def test_two_concurrent_ticks_escalate_each_case_exactly_once(tmp_path):
    database = new_database(tmp_path)
    engine = make_engine(database.url)
    try:
        upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        started = now - dt.timedelta(hours=3)
        due = now - dt.timedelta(minutes=30)
        n = 400
        rows = [
            {
                "token": f"{i:032x}",
                "source": "passive",
                "channel": "api",
                "status": "handling",
                "description": "x",
                "priority": 3,
                "triage_status": "done",
                "needs_human": False,
                "photos": 0,
                "is_joint": False,
                "created_at": started,
                "updated_at": started,
                "step": "handle",
                "step_started_at": started,
                "yellow_at": started,
                "due_at": due,
                "warn_level": "yellow",
                "escalation_level": 0,
                "next_check_at": due,
                "reopen_count": 0,
                "return_count": 0,
                "supervise_count": 0,
                "version": 1,
            }
            for i in range(n)
        ]
        with engine.begin() as conn:
            conn.execute(insert(Case.__table__), rows)
        factory = make_sessionmaker(engine)
        barrier = threading.Barrier(2)
        results, errors = [], []

        def run():
            try:
                with factory() as session:
                    barrier.wait()
                    results.append(timers.tick(session, now=now))
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert sum(r["escalated"] for r in results) == n
        with factory() as session:
            per_case = session.execute(
                select(Action.case_id, func.count()).where(Action.action == "escalate").group_by(Action.case_id)
            ).all()
            assert len(per_case) == n and {c for _i, c in per_case} == {1}
            assert audit.verify(session).ok
            assert (
                session.execute(
                    select(func.count())
                    .select_from(audit.AuditEntry)
                    .where(audit.AuditEntry.action == "events.case.escalate")
                ).scalar()
                == n
            )
            # a later tick finds nothing left to do
            assert timers.tick(session, now=now)["escalated"] == 0
    finally:
        engine.dispose()
        database.drop()


def test_the_due_case_query_reads_the_next_check_index(db):
    """On the status index SQLite would read every open case inside the tick's write transaction."""
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's query planner only: PostgreSQL plans by its statistics")
    stmt = timers.due_cases(dt.datetime(2026, 11, 29, tzinfo=dt.UTC), 2000, "sqlite")
    compiled = stmt.compile(db.get_bind(), compile_kwargs={"literal_binds": True})
    plan = " ".join(str(r[-1]) for r in db.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_events_cases_next_check_at" in plan, plan
