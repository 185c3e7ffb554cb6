"""Reads of the lake domain: mounted resources, table history, time travel and staff SQL.

Every row read goes through ``access.require_zone`` (department scope; personal zones need
``lake.personal.read``, a reason and an audit entry). Writes are in ``service.py``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import time
from typing import Any

from sqlalchemy.orm import Session

from yiwang import catalog
from yiwang.core import audit, bus, db
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.errors import Invalid, NotFound
from yiwang.core.i18n import _
from yiwang.core.lake import ZONES, Lake, QueryError, QueryLimits, parse_table_name
from yiwang.core.lake.query import check_select
from yiwang.core.lake.scan import quote_ident
from yiwang.core.security import Actor, in_scope
from yiwang.lake import access
from yiwang.lake.bus_events import TablesRead
from yiwang.lake.handle import lake_for
from yiwang.lake.roles import SQL
from yiwang.lake.schemas import (
    LakeResourcePublic,
    RowsPublic,
    SnapshotPublic,
    SqlResultPublic,
    ZoneStatePublic,
)

MAX_PAGE = 1000


_CARET = re.compile(r"LINE (\d+): (.*)\n(\s*)\^")


def parse_as_of(value: str | None) -> dt.date | dt.datetime | None:
    """``2026-11-01`` (end of that day) or an ISO date-time; naive times are China Standard Time."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            _("as_of must be a date (2026-11-01) or an ISO date-time, not %(value)s.", value=text[:40]), field="as_of"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return moment


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def zone_states(lake: Lake, name: str, existing: set[str] | None = None) -> dict[str, ZoneStatePublic]:
    existing = existing if existing is not None else set(lake.tables())
    states = {}
    for zone in ZONES:
        table = f"{zone}.{name}"
        state = ZoneStatePublic(table=table, exists=table in existing)
        if state.exists:
            snap = lake.table(table).current_snapshot()
            if snap is not None:
                summary = snap.summary
                state.snapshot_id = snap.snapshot_id
                state.rows = int(summary.get("total-records", 0) or 0) if summary else 0
                state.committed_at = dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, dt.UTC)
        states[zone] = state
    return states


def overview(session: Session, *, actor: Actor, settings: Settings) -> list[LakeResourcePublic]:
    """Published resources of the actor's data scope, mounted first, with their zone tables."""
    rows, _total = catalog.list_resources(session, actor=actor, limit=500)
    lake = lake_for(settings)
    existing = set(lake.tables())
    out = []
    for row in rows:
        if row.published_version is None or not in_scope(actor, department_id=row.department_id):
            continue
        res = catalog.get_resource(session, actor=actor, name=row.name)
        out.append(
            LakeResourcePublic(
                name=res.name,
                title=res.spec.get("title", row.title),
                provider=res.provider.name,
                department_id=res.provider.id,
                mounted=res.mount.mounted,
                mounted_at=res.mount.mounted_at,
                share_type=(res.spec.get("share") or {}).get("type", ""),
                zones=zone_states(lake, res.name, existing),
            )
        )
    out.sort(key=lambda r: (not r.mounted, r.name))
    return out


def history(session: Session, *, actor: Actor, settings: Settings, name: str) -> dict[str, list[SnapshotPublic]]:
    """Snapshots of each zone table, newest first (the snapshot list is metadata: no personal data)."""
    res = access.resource(session, actor=actor, name=name)
    access.require_zone(actor, res, "share", None)
    lake = lake_for(settings)
    existing = set(lake.tables())
    out: dict[str, list[SnapshotPublic]] = {}
    for zone in ZONES:
        table = f"{zone}.{res.name}"
        snaps = lake.history(table) if table in existing else []
        out[zone] = [SnapshotPublic(**{k: getattr(s, k) for k in SnapshotPublic.model_fields}) for s in reversed(snaps)]
    return out


def read_rows(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    table: str,
    as_of: str | None = None,
    snapshot_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
    reason: str | None = None,
    origin: Origin,
    where: str | None = None,
) -> RowsPublic:
    """Rows of ``zone.name`` as it was at ``as_of`` (or a snapshot, or now)."""
    zone, name = _split(table)
    res = access.resource(session, actor=actor, name=name)
    checked = access.require_zone(actor, res, zone, reason)
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise Invalid(_("limit is 1 to %(n)s and offset at least 0.", n=MAX_PAGE), field="limit")
    lake = lake_for(settings)
    if not lake.exists(table):
        raise NotFound(_("%(table)s has no data yet: nothing was loaded.", table=table), field="table")
    moment = parse_as_of(as_of)
    try:
        sid = lake.snapshot_id(table, as_of=moment) if snapshot_id is None else snapshot_id
        committed = None
        total = 0
        if sid is not None:
            snap = lake.table(table).snapshot_by_id(sid)
            if snap is None:
                raise NotFound(_("%(table)s has no snapshot %(id)s.", table=table, id=sid), field="snapshot_id")
            committed = dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, dt.UTC)
            summary = snap.summary
            total = int(summary.get("total-records") or 0) if summary is not None else 0
    except LookupError as exc:
        raise NotFound(str(exc), field="snapshot_id") from None
    if checked is not None:
        access.record_personal_read(
            session,
            actor=actor,
            tables=[table],
            reason=checked,
            origin=origin,
            detail={"snapshot_id": sid, "limit": limit, "offset": offset, "as_of": as_of},
        )
    db.commit(session)  # never hold a write transaction while the lake reads its catalog (SQLite)
    query = f"SELECT * FROM {quote_ident(zone)}.{quote_ident(name)}"
    if where:
        query += f" WHERE {where}"
    query += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    try:
        result = lake.query(query, snapshots={table: sid}, limits=QueryLimits(max_rows=limit, timeout_seconds=30))
    except QueryError as exc:
        raise Invalid(str(exc), field="where", code="query_error") from None
    data = result.table
    return RowsPublic(
        table=table,
        snapshot_id=sid,
        committed_at=committed,
        as_of=as_of,
        total_rows=total,
        offset=offset,
        columns=data.column_names,
        rows=[[jsonable(v) for v in row.values()] for row in data.to_pylist()],
        personal=checked is not None,
    )


def _split(table: str) -> tuple[str, str]:
    try:
        return parse_table_name(table)
    except ValueError as exc:
        raise Invalid(
            _("Name a table as zone.name, e.g. share.population: %(error)s", error=str(exc)), field="table"
        ) from None


def sql_problem(exc: QueryError) -> Invalid:
    """A refused or failed query as a 422 naming line and column where DuckDB gives them."""
    text = str(exc)
    match = _CARET.search(text)
    detail = {}
    if match:
        detail = {"line": int(match.group(1)), "column": len(match.group(3)) - len(f"LINE {match.group(1)}: ") + 1}
    return Invalid(text.split("\n")[0], field="sql", code="query_error", **detail)


def run_sql(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    sql: str,
    reason: str | None = None,
    as_of: str | None = None,
    limit: int = 1000,
    origin: Origin,
) -> SqlResultPublic:
    """One read-only SELECT over ``raw.<name>``, ``clean.<name>``, ``share.<name>``; audited with the query."""
    actor.require(SQL)
    if not sql.strip():
        raise Invalid(_("Type a SELECT query."), field="sql")
    try:
        tables = check_select(sql)
    except QueryError as exc:
        raise sql_problem(exc) from None
    if not tables:
        raise Invalid(_("Name at least one lake table, e.g. SELECT count(*) FROM share.population."), field="sql")
    with db.reading():  # catalog and Iceberg metadata reads: no writer lock until the audit entry is written
        personal, departments, checked = [], set(), None
        for table in tables:
            zone, name = _split(table)
            try:
                res = access.resource(session, actor=actor, name=name)
            except NotFound:
                raise Invalid(
                    _("No lake table %(table)s: no catalog resource is called %(name)s.", table=table, name=name),
                    field="sql",
                    code="unknown_table",
                ) from None
            reason_ok = access.require_zone(actor, res, zone, reason)
            if reason_ok is not None:
                personal.append(table)
                checked = reason_ok
            departments.add(res.provider.id)
        lake = lake_for(settings)
        missing = [t for t in tables if not lake.exists(t)]
        if missing:
            raise Invalid(
                _("%(table)s has no data yet: nothing was loaded.", table=missing[0]), field="sql", code="unknown_table"
            )
        moment = parse_as_of(as_of)
        snapshots = {t: lake.snapshot_id(t, as_of=moment) for t in tables}
    audit.record(
        session,
        actor=actor,
        action="lake.sql",
        target_type="lake_query",
        target_id=",".join(tables)[:200],
        origin=origin,
        reason=checked,
        detail={"sql": sql[:4000], "tables": tables, "as_of": as_of, "snapshots": snapshots, "personal": personal},
    )
    bus.publish(
        TablesRead(
            session=session,
            actor=actor.username,
            tables=tuple(tables),
            department_ids=tuple(sorted(departments)),
            purpose="lake.sql",
            query=sql[:4000],
            settings=settings,
        )
    )
    db.commit(session)  # the audit entry stands even if the query then fails; no lock held while it runs
    started = time.perf_counter()
    try:
        result = lake.query(sql, snapshots=snapshots, limits=QueryLimits(max_rows=limit, timeout_seconds=30))
    except QueryError as exc:
        raise sql_problem(exc) from None
    data = result.table
    return SqlResultPublic(
        columns=data.column_names,
        rows=[[jsonable(v) for v in row.values()] for row in data.to_pylist()],
        row_count=data.num_rows,
        truncated=result.truncated,
        tables=tables,
        snapshots=snapshots,
        seconds=round(time.perf_counter() - started, 3),
    )
