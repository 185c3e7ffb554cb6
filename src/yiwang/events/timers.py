"""SLA timers: yellow and red lights, and escalation to the supervising level when overdue.

Each open case carries ``next_check_at``, the next moment its light can change. A tick
claims the cases whose moment has come (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so ticks
running in several processes split the work; SQLite's writer lock serialises them), sets
the light, escalates, and moves ``next_check_at`` forward in the same transaction — so a
case is never escalated twice for the same level. Escalation level 1 (at the deadline)
notifies the supervisors and the handling department's parent department; level 2
(overdue by a further whole allowance) notifies the city leaders.

The background runner starts the triage worker and the timer loop as daemon threads in each
web process (``YIWANG_EVENTS_BACKGROUND``), only when the app owns its database engine.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
from pathlib import Path

import structlog
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from yiwang import org
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.i18n import _
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.events import pipeline, roles, sla
from yiwang.events.models import ACTION_TABLE, CASE_TABLE, Case
from yiwang.events.notify import notify
from yiwang.events.queries import OPEN_STATUSES, departments
from yiwang.events.settings import get_events_settings

log = structlog.get_logger("yiwang.events.timers")
ORIGIN = Origin(ip="timer")


def due_cases(now: dt.datetime, limit: int, dialect: str):
    """The open cases whose light may have changed, oldest moment first.

    ``status || ''`` keeps the planner on the next_check_at index: on the status index SQLite
    reads every open case (0.4 s at 250,000 cases) inside the tick's write transaction, and
    every intake commit of every process waits that long behind it.
    """
    c = Case.__table__.c
    stmt = (
        select(
            c.id,
            c.step,
            c.step_started_at,
            c.yellow_at,
            c.due_at,
            c.warn_level,
            c.escalation_level,
            c.department_id,
            c.created_at,
        )
        .where(c.next_check_at <= now, c.status.concat("").in_(OPEN_STATUSES))
        .order_by(c.next_check_at)
        .limit(limit)
    )
    return stmt.with_for_update(skip_locked=True) if dialect == "postgresql" else stmt


def tick(session: Session, *, now: dt.datetime | None = None, limit: int = 2000) -> dict[str, int]:
    """Process every case whose light may have changed; returns counts."""
    now = now or db.utcnow()
    c = Case.__table__.c
    rows = session.execute(due_cases(now, limit, session.get_bind().dialect.name)).all()
    counts = {"checked": len(rows), "yellow": 0, "red": 0, "escalated": 0}
    if not rows:
        session.rollback()
        return counts
    depts = departments(session)
    updates, actions, audits = [], [], []
    for r in rows:
        if r.due_at is None or r.step_started_at is None:
            updates.append({"b_id": r.id, "b_warn": r.warn_level, "b_esc": r.escalation_level, "b_next": None})
            continue
        step = sla.Step(r.step_started_at, r.yellow_at or r.due_at, r.due_at)
        light, level = sla.level_at(step, now)
        counts[light] = counts.get(light, 0) + (light != r.warn_level)
        esc = r.escalation_level
        if level > esc:
            esc = level
            counts["escalated"] += 1
            num = f"{r.created_at.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y%m%d}{r.id:08d}"
            message = _(
                'Case %(number)s is overdue in step "%(step)s" (escalation level %(level)s).',
                number=num,
                step=r.step or "",
                level=level,
            )
            notify(session, case_id=r.id, role=roles.SUPERVISOR, kind="escalate", message=message)
            if level == 1:
                parent = depts[r.department_id].parent_id if r.department_id in depts else None
                if parent:
                    notify(session, case_id=r.id, department_id=parent, kind="escalate", message=message)
                if r.department_id:
                    notify(session, case_id=r.id, department_id=r.department_id, kind="escalate", message=message)
            else:
                notify(session, case_id=r.id, role=org.roles.LEADER, kind="escalate", message=message)
            detail = {"level": level, "step": r.step, "due_at": r.due_at.isoformat()}
            actions.append(
                {
                    "case_id": r.id,
                    "at": now,
                    "actor_id": None,
                    "actor_name": "SLA",
                    "action": "escalate",
                    "from_status": None,
                    "to_status": None,
                    "department_id": r.department_id,
                    "note": None,
                    "detail": json.dumps(detail),
                }
            )
            audits.append(
                {
                    "actor": SYSTEM_ACTOR,
                    "origin": ORIGIN,
                    "action": "events.case.escalate",
                    "target_type": "event_case",
                    "target_id": r.id,
                    "detail": detail,
                }
            )
        updates.append({"b_id": r.id, "b_warn": light, "b_esc": esc, "b_next": sla.next_check(step, now)})
    session.connection().execute(
        update(CASE_TABLE)
        .where(c.id == bindparam("b_id"))
        .values(warn_level=bindparam("b_warn"), escalation_level=bindparam("b_esc"), next_check_at=bindparam("b_next")),
        updates,
    )
    if actions:
        session.connection().execute(insert(ACTION_TABLE), actions)
        audit.record_many(session, audits)
    session.commit()
    return counts


class TriageTurn:
    """One triage worker at a time among the processes sharing a SQLite database (a non-blocking
    ``flock`` on a side file): two would read the same pending cases, classify them twice, and
    only one could write them. PostgreSQL needs none (``SKIP LOCKED`` shares the work out)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.fd: int | None = None

    def take(self) -> bool:
        if self.path is None:
            return True
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def give_back(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Background:
    """The triage worker and the SLA timer as two daemon threads of one process."""

    def __init__(self, factory: sessionmaker[Session], home: Path, sqlite_file: str | None = None) -> None:
        self.factory, self.home = factory, home
        self.turn = TriageTurn(sqlite_file + "-triage" if sqlite_file else None)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def _loop(self, name: str, seconds: float, work) -> None:
        """Run ``work`` every ``seconds`` (a full batch does not skip the pause: the triage of a
        burst is spread out instead of starving the intake of CPU; one process triages up to
        ``triage_batch / triage_seconds`` cases per second)."""
        while not self.stop.is_set():
            try:
                with self.factory() as session:
                    work(session)
            except Exception:
                log.exception("background job failed", job=name)
            self.stop.wait(seconds)

    def _triage(self, session: Session) -> int:
        if not self.turn.take():
            return 0
        try:
            return self._triage_turn(session)
        finally:
            self.turn.give_back()

    def _triage_turn(self, session: Session) -> int:
        """Triage pending cases. Accepting cases has priority: while any web process is taking an intake
        burst, triage waits — unless the oldest pending case has waited ``triage_max_wait`` seconds,
        then it takes a small batch — and drains the backlog once the burst is over."""
        from sqlalchemy import func, select

        from yiwang.events.batcher import intake_busy
        from yiwang.events.models import Case

        s = get_events_settings()
        if intake_busy(self.home):
            oldest = session.execute(select(func.min(Case.created_at)).where(Case.triage_status == "pending")).scalar()
            session.rollback()
            if oldest is None or (db.utcnow() - oldest).total_seconds() < s.triage_max_wait:
                return 0
            return pipeline.run_once(session, home=self.home, limit=max(1, s.triage_batch // 5))
        total = 0
        while not self.stop.is_set() and (n := pipeline.run_once(session, home=self.home)):
            total += n
            if intake_busy(self.home):
                break
        return total

    def start(self) -> None:
        s = get_events_settings()
        jobs = [
            ("triage", s.triage_seconds, self._triage),
            ("timers", s.timer_seconds, lambda session: tick(session)["checked"] >= 2000),
        ]
        for name, seconds, work in jobs:
            t = threading.Thread(target=self._loop, args=(name, seconds, work), name=f"events-{name}", daemon=True)
            t.start()
            self.threads.append(t)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)
        self.turn.close()
