"""Background loads: uploaded files wait as ``queued`` loads; worker threads claim and run them.

Claiming takes one queued load with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (so workers in
several processes never take the same one; on SQLite the single writer lock serialises them)
and marks it running in the same transaction. A running load moves its heartbeat every few
seconds; ``recover`` finds loads whose heartbeat stopped (the process was killed): if the lake
holds snapshots carrying the load id, the commit happened and the load is marked committed,
otherwise it is marked failed (``interrupted``) and the lake is, as it must be, at its previous
snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from pathlib import Path

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from yiwang import lake, org
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.errors import YiwangError
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import lineage
from yiwang.governance.models import Load
from yiwang.governance.service import run_load
from yiwang.governance.settings import get_governance_settings

log = structlog.get_logger("yiwang.governance.jobs")
ORIGIN = Origin(ip="worker")


def claim(session: Session, *, worker: str) -> Load | None:
    """Take the oldest queued load and mark it running (committed), or None."""
    stmt = select(Load).where(Load.status == "queued").order_by(Load.created_at, Load.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        session.rollback()
        return None
    now = db.utcnow()
    row.status, row.claimed_by, row.started_at, row.heartbeat_at = "running", worker, now, now
    session.commit()
    return row


def run_claimed(factory: sessionmaker, settings: Settings, load_id: str) -> None:
    """Run one claimed load as the person who queued it; its upload is removed afterwards."""
    from yiwang.governance import quarantine

    with factory() as session:
        row = session.get(Load, load_id)
        actor = SYSTEM_ACTOR if row.actor_username == "system" else org.actor_for_username(session, row.actor_username)
        options = json.loads(row.options or "{}")
        path, origin_kind = row.upload_path, row.origin
        source = quarantine.resubmit_source(session, row, settings) if origin_kind == "resubmit" else path
    try:
        if actor is None:
            raise _Gone(row.actor_username)
        run_load(
            factory,
            settings=settings,
            load_id=load_id,
            actor=actor,
            source=source,
            source_options={
                k: v for k, v in options.items() if k in ("encoding", "sheet", "delimiter", "table", "query", "format")
            },
            origin=ORIGIN,
        )
    except YiwangError as exc:
        log.info("load failed", load_id=load_id, code=exc.code, message=exc.message)
    finally:
        if origin_kind == "resubmit":
            with factory() as session:
                quarantine.after_resubmit(session, load_id)
        if path:
            Path(path).unlink(missing_ok=True)


class _Gone(YiwangError):
    def __init__(self, username: str) -> None:
        super().__init__(f"the account {username!r} that queued this load is gone or disabled", code="account_gone")


def recover(factory: sessionmaker, settings: Settings, *, stale_seconds: int | None = None) -> dict[str, int]:
    """Settle running loads whose heartbeat stopped: committed if the lake has their snapshots, else failed."""
    stale = stale_seconds if stale_seconds is not None else get_governance_settings().stale_seconds
    limit = db.utcnow() - dt.timedelta(seconds=stale)
    counts = {"committed": 0, "failed": 0}
    the_lake = lake.lake_for(settings)
    with factory() as session:
        rows = list(
            session.execute(
                select(Load).where(
                    Load.status == "running", or_(Load.heartbeat_at.is_(None), Load.heartbeat_at < limit)
                )
            ).scalars()
        )
        for row in rows:
            snaps = _snapshots_of(the_lake, row)
            if snaps:
                row.status, row.snapshots = "committed", json.dumps(snaps)
                row.error = json.dumps(
                    {
                        "code": "recovered",
                        "message": "the process ended after the lake commit; counts and quality were not recorded",
                    }
                )
            else:
                row.status = "failed"
                row.error = json.dumps(
                    {
                        "code": "interrupted",
                        "message": "the load's process ended before it committed; the lake kept its previous snapshot",
                        "file": row.source_name,
                        "line": None,
                        "column": None,
                    }
                )
                ev = lineage.run_event(
                    "FAIL",
                    run_id=row.run_id,
                    job=f"ingest.{row.resource}",
                    inputs=[],
                    outputs=[],
                    run_facets=lineage.error_facet("interrupted"),
                )
                lineage.store(session, ev, resource=row.resource, department_id=row.department_id)
            row.finished_at = db.utcnow()
            counts[row.status] += 1
            audit.record(
                session,
                actor=SYSTEM_ACTOR,
                action="governance.load_recovered",
                target_type="catalog_resource",
                target_id=row.resource,
                origin=ORIGIN,
                detail={"load_id": row.id, "status": row.status},
            )
        session.commit()
    return counts


def _snapshots_of(the_lake, row: Load) -> dict[str, int]:
    found = {}
    for zone in ("raw", "clean", "share", "quarantine"):
        table = f"{zone}.{row.resource}"
        if the_lake.exists(table):
            for snap in the_lake.history(table):
                if snap.load_id == row.id:
                    found[table] = snap.snapshot_id
    return found


class Worker:
    """Worker threads claiming queued loads; recovery of killed loads at start and then every minute."""

    def __init__(self, factory: sessionmaker, settings: Settings) -> None:
        self.factory, self.settings = factory, settings
        self.gov = get_governance_settings()
        self.stop = threading.Event()
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.threads = [
            threading.Thread(target=self._loop, name=f"load-worker-{i}", daemon=True) for i in range(self.gov.workers)
        ]

    def start(self) -> None:
        try:
            recover(self.factory, self.settings)
        except Exception as exc:
            log.warning("load recovery failed", error=str(exc)[:300])
        for t in self.threads:
            t.start()

    def _loop(self) -> None:
        rounds = 0
        while not self.stop.is_set():
            try:
                with self.factory() as session:
                    row = claim(session, worker=self.name)
                if row is not None:
                    run_claimed(self.factory, self.settings, row.id)
                    continue
                rounds += 1
                if rounds % max(1, int(60 / self.gov.poll_seconds)) == 0:
                    recover(self.factory, self.settings)
            except Exception as exc:
                log.warning("load worker error", error=str(exc)[:300])
            self.stop.wait(self.gov.poll_seconds)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)
