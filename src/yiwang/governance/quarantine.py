"""The quarantine workbench: rejected rows, staff's fixes, resubmission through the same rules.

Rows stay in the append-only ``quarantine.<name>`` Iceberg zone (the evidence of what was
received, with rule, column, value, reason and source line). Fixes and their outcome live in
``governance_quarantine_fixes`` keyed by load id + line (SM4-encrypted values): row-level
updates with locking are what SQL is for, and rewriting Iceberg files for each correction would
churn snapshots and lose the record of what was fixed. Resubmitting queues a load of the fixed
rows (append, or upsert by key) that runs through the same rules as any load; rows that fail
again land in quarantine under the new load.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiwang import catalog, lake
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.errors import Invalid, NotFound
from yiwang.core.i18n import _
from yiwang.core.lake.scan import quote_literal
from yiwang.core.security import Actor
from yiwang.governance.engine import ResourceRules
from yiwang.governance.models import Load, QuarantineFix
from yiwang.governance.roles import QUARANTINE
from yiwang.governance.schemas import QuarantineRowPublic
from yiwang.governance.service import create_load

CLOSED = ("resubmitted", "resolved", "discarded")
MAX_IMPORT_BYTES = 20 << 20
MAX_RESUBMIT = 100_000
META = ("_line", "_rule", "_column", "_value", "_reason", "_failures", "_load_id")


def _check(session: Session, *, actor: Actor, name: str, reason: str | None, write: bool = False):
    res = lake.resource(session, actor=actor, name=name)
    if write:
        actor.require(QUARANTINE)
    checked = lake.require_zone(actor, res, "quarantine", reason)
    rules = ResourceRules.from_dict(catalog.resource_rules(session, name).rules)
    return res, checked, rules


def _where(
    session: Session, name: str, *, load_id: str | None, rule: str | None, column: str | None, status: str
) -> str:
    parts = ["true"]
    if load_id:
        parts.append(f"_load_id = {quote_literal(load_id)}")
    if rule:
        parts.append(f"list_contains(list_transform(_failures, lambda f: f.rule), {quote_literal(rule)})")
    if column:
        parts.append(f"list_contains(list_transform(_failures, lambda f: f.column), {quote_literal(column)})")
    if status in ("open", "closed"):
        closed = session.execute(
            select(QuarantineFix.load_id, QuarantineFix.line).where(
                QuarantineFix.resource == name, QuarantineFix.status.in_(CLOSED)
            )
        ).all()
        if closed:
            keys = ", ".join(quote_literal(f"{lid}:{line}") for lid, line in closed)
            parts.append(
                f"(_load_id || ':' || CAST(_line AS VARCHAR)) {'NOT IN' if status == 'open' else 'IN'} ({keys})"
            )
        elif status == "closed":
            parts.append("false")
    return " AND ".join(parts)


def list_rows(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    reason: str | None,
    origin: Origin,
    load_id: str | None = None,
    rule: str | None = None,
    column: str | None = None,
    status: str = "open",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QuarantineRowPublic], int]:
    """Quarantined rows (filtered by load, rule, column, status); reading them is an audited personal read."""
    _res, checked, _rules = _check(session, actor=actor, name=name, reason=reason)
    the_lake = lake.lake_for(settings)
    table = f"quarantine.{name}"
    if not the_lake.exists(table):
        return [], 0
    where = _where(session, name, load_id=load_id, rule=rule, column=column, status=status)
    lake.record_personal_read(
        session,
        actor=actor,
        tables=[table],
        reason=checked,
        origin=origin,
        detail={"load_id": load_id, "rule": rule, "column": column, "limit": limit},
    )
    db.commit(session)
    total = the_lake.sql(f"SELECT count(*) AS n FROM quarantine.{name} WHERE {where}").column(0)[0].as_py()
    data = the_lake.sql(
        f"SELECT * FROM quarantine.{name} WHERE {where} ORDER BY _load_id, _line "
        f"LIMIT {int(limit)} OFFSET {int(offset)}"
    ).to_pylist()
    fixes = _fixes(session, name, [(r["_load_id"], r["_line"]) for r in data])
    out = []
    for r in data:
        fix = fixes.get((r["_load_id"], r["_line"]))
        out.append(
            QuarantineRowPublic(
                load_id=r["_load_id"],
                line=r["_line"],
                rule=r["_rule"],
                column=r["_column"],
                value=r["_value"],
                reason=r["_reason"],
                failures=lake.jsonable(r["_failures"] or []),
                values={k: v for k, v in r.items() if k not in META},
                fix=json.loads(fix.values) if fix and fix.values else None,
                status=fix.status if fix else "open",
            )
        )
    return out, total


def _fixes(session: Session, name: str, keys: list[tuple[str, int]]) -> dict[tuple[str, int], QuarantineFix]:
    if not keys:
        return {}
    loads = {k[0] for k in keys}
    rows = session.execute(
        select(QuarantineFix).where(QuarantineFix.resource == name, QuarantineFix.load_id.in_(loads))
    ).scalars()
    wanted = set(keys)
    return {(f.load_id, f.line): f for f in rows if (f.load_id, f.line) in wanted}


def _owned_load(session: Session, name: str, load_id: str) -> Load:
    row = session.get(Load, load_id)
    if row is None or row.resource != name:
        raise NotFound(_("No load %(id)s of %(name)s.", id=load_id[:40], name=name), field="load_id")
    return row


def save_fix(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    load_id: str,
    line: int,
    values: dict[str, str | None],
    reason: str,
    origin: Origin,
    status: str = "fixed",
) -> QuarantineFix:
    """Record the corrected values of one quarantined row (or ``status="discarded"``), audited."""
    _res, checked, rules = _check(session, actor=actor, name=name, reason=reason, write=True)
    _owned_load(session, name, load_id)
    unknown = [k for k in values if k not in rules.column_names]
    if unknown:
        raise Invalid(_("%(column)s is not a column of %(name)s.", column=unknown[0], name=name), field="values")
    found = lake.lake_for(settings).sql(
        f"SELECT count(*) FROM quarantine.{name} WHERE _load_id = {quote_literal(load_id)} AND _line = {int(line)}"
    )
    if not found.column(0)[0].as_py():
        raise NotFound(
            _("Line %(line)s of load %(id)s is not in quarantine.", line=line, id=load_id[:12]), field="line"
        )
    fix = session.execute(
        select(QuarantineFix).where(QuarantineFix.load_id == load_id, QuarantineFix.line == line)
    ).scalar_one_or_none()
    if fix is not None and fix.status in ("resubmitted", "resolved"):
        raise Invalid(_("This row was already resubmitted."), field="line", code="already_resubmitted")
    clean = {k: (None if v is None else str(v)[:2000]) for k, v in values.items()}
    if fix is None:
        fix = QuarantineFix(load_id=load_id, line=line, resource=name, status=status, fixed_by=actor.username)
        session.add(fix)
    previous = json.loads(fix.values) if fix.values else {}
    fix.values = json.dumps({**previous, **clean}, ensure_ascii=False)
    fix.status, fix.fixed_by, fix.fixed_at = status, actor.username, db.utcnow()
    audit.record(
        session,
        actor=actor,
        action=f"governance.quarantine_{'discard' if status == 'discarded' else 'fix'}",
        target_type="quarantine_row",
        target_id=f"{load_id}:{line}",
        origin=origin,
        reason=checked,
        detail={"resource": name, "columns": sorted(clean)},
    )
    db.commit(session)
    return fix


def resubmit(session: Session, *, actor: Actor, name: str, mode: str | None, origin: Origin) -> Load:
    """Queue a load of every fixed row of ``name`` (append, or upsert by key); the worker runs it."""
    _res, _checked, rules = _check(
        session, actor=actor, name=name, reason="resubmit fixed quarantined rows", write=True
    )
    fixes = list(
        session.execute(
            select(QuarantineFix)
            .where(QuarantineFix.resource == name, QuarantineFix.status == "fixed")
            .order_by(QuarantineFix.id)
            .limit(MAX_RESUBMIT)
        ).scalars()
    )
    if not fixes:
        raise Invalid(_("No fixed rows to resubmit: fix quarantined rows first."), field="fixes", code="nothing_fixed")
    mode = mode or ("upsert" if rules.unique_keys else "append")
    if mode not in ("append", "upsert"):
        raise Invalid(_("Resubmit with append or upsert."), field="mode")
    loads = sorted({f.load_id for f in fixes})
    row = create_load(
        session,
        actor=actor,
        name=name,
        mode=mode,
        status="queued",
        origin_kind="resubmit",
        source_name=f"quarantine-fixes-{len(fixes)}-rows.csv",
        options={"from_loads": loads},
        resubmit_of=loads[0],
        origin=origin,
    )
    for fix in fixes:
        fix.status, fix.resubmit_load_id = "resubmitted", row.id
    db.commit(session)
    return row


class FixesSource:
    """The fixed rows of one resubmission as the engine's source: string columns plus the original line."""

    def __init__(self, name: str, batch: pa.RecordBatch) -> None:
        self.name, self._batch = name, batch

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield self._batch


def resubmit_source(session: Session, load: Load, settings: Settings) -> FixesSource:
    rules = ResourceRules.from_dict(catalog.resource_rules(session, load.resource, load.rules_version).rules)
    fixes = list(
        session.execute(
            select(QuarantineFix).where(QuarantineFix.resubmit_load_id == load.id).order_by(QuarantineFix.id)
        ).scalars()
    )
    originals = _originals(session, load.resource, fixes, settings)
    columns: dict[str, list[Any]] = {c: [] for c in rules.column_names}
    for fix in fixes:
        base = originals.get((fix.load_id, fix.line), {})
        merged = {**base, **(json.loads(fix.values) if fix.values else {})}
        for c in columns:
            columns[c].append(merged.get(c))
    arrays = [pa.array(v, pa.string()) for v in columns.values()]
    lines = pa.array([f.line for f in fixes], pa.int64())
    batch = pa.RecordBatch.from_arrays([*arrays, lines], names=[*columns, "_line"])
    return FixesSource(load.source_name, batch)


def _originals(
    session: Session, name: str, fixes: list[QuarantineFix], settings: Settings
) -> dict[tuple[str, int], dict]:
    """The rows as received, for columns the fix left unchanged."""
    if not fixes:
        return {}
    keys = ", ".join(quote_literal(f"{f.load_id}:{f.line}") for f in fixes)
    rows = (
        lake.lake_for(settings)
        .sql(f"SELECT * FROM quarantine.{name} WHERE (_load_id || ':' || CAST(_line AS VARCHAR)) IN ({keys})")
        .to_pylist()
    )
    return {(r["_load_id"], r["_line"]): {k: v for k, v in r.items() if k not in META} for r in rows}


def after_resubmit(session: Session, load_id: str) -> None:
    """Committed: the fixes are resolved. Failed: they go back to ``fixed`` to try again."""
    load = session.get(Load, load_id)
    assert load is not None  # the resubmission that has just run
    fixes = session.execute(select(QuarantineFix).where(QuarantineFix.resubmit_load_id == load_id)).scalars()
    for fix in fixes:
        if load.status == "committed":
            fix.status = "resolved"
        elif load.status == "failed":
            fix.status, fix.resubmit_load_id = "fixed", None
    session.commit()


def export_csv(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    reason: str | None,
    origin: Origin,
    load_id: str | None = None,
    rule: str | None = None,
    column: str | None = None,
    status: str = "open",
) -> Iterator[str]:
    """Quarantined rows as CSV (UTF-8 with BOM, for Excel): fix the values, then ``import_fixes``."""
    _res, checked, rules = _check(session, actor=actor, name=name, reason=reason)
    the_lake = lake.lake_for(settings)
    table = f"quarantine.{name}"
    where = _where(session, name, load_id=load_id, rule=rule, column=column, status=status)
    lake.record_personal_read(
        session,
        actor=actor,
        tables=[table],
        reason=checked,
        origin=origin,
        detail={"export": "csv", "load_id": load_id, "rule": rule, "column": column},
    )
    db.commit(session)
    header = ["_load_id", "_line", "_rule", "_column", "_reason", *rules.column_names]
    reader = (
        the_lake.sql_batches(
            f"SELECT {', '.join(_q(c) for c in header)} FROM quarantine.{name} WHERE {where} ORDER BY _load_id, _line"
        )
        if the_lake.exists(table)
        else []
    )

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        yield "\ufeff" + buf.getvalue()
        for batch in reader:
            buf.seek(0)
            buf.truncate()
            for record in batch.to_pylist():
                writer.writerow(["" if record[c] is None else record[c] for c in header])
            yield buf.getvalue()

    return rows()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def import_fixes(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    data: bytes,
    filename: str,
    reason: str,
    origin: Origin,
) -> int:
    """Read an exported, corrected CSV back as fixes; all rows or none, problems named file:line: column."""
    _res, checked, rules = _check(session, actor=actor, name=name, reason=reason, write=True)
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid(_("%(file)s is larger than %(mb)s MB.", file=filename, mb=MAX_IMPORT_BYTES >> 20), field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(
            _("%(file)s: byte %(pos)s: not UTF-8 (save the CSV as UTF-8).", file=filename, pos=exc.start),
            field="file",
            code="encoding_error",
            file=filename,
        ) from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or "_load_id" not in header or "_line" not in header:
        raise Invalid(
            _("%(file)s:1: the header needs _load_id and _line (export the quarantine first).", file=filename),
            field="file",
            code="missing_columns",
            file=filename,
            line=1,
        )
    unknown = [h for h in header if not h.startswith("_") and h not in rules.column_names]
    if unknown:
        raise Invalid(
            _("%(file)s:1: column %(column)s: not a column of %(name)s.", file=filename, column=unknown[0], name=name),
            field="file",
            code="unknown_columns",
            file=filename,
            line=1,
            column=unknown[0],
        )
    data_cols = [h for h in header if not h.startswith("_")]
    count = 0
    with db.unit_of_work(session):
        for number, record in enumerate(reader, start=2):
            if not any(record):
                continue
            if len(record) != len(header):
                raise Invalid(
                    _(
                        "%(file)s:%(line)s: %(n)s fields, the header has %(m)s.",
                        file=filename,
                        line=number,
                        n=len(record),
                        m=len(header),
                    ),
                    field="file",
                    code="ragged_row",
                    file=filename,
                    line=number,
                )
            values = dict(zip(header, record))
            if not values["_line"].isdigit():
                raise Invalid(
                    _("%(file)s:%(line)s: column _line: not a line number.", file=filename, line=number),
                    field="file",
                    code="bad_value",
                    file=filename,
                    line=number,
                    column="_line",
                )
            try:
                save_fix(
                    session,
                    actor=actor,
                    settings=settings,
                    name=name,
                    load_id=values["_load_id"],
                    line=int(values["_line"]),
                    values={c: values[c] or None for c in data_cols},
                    reason=checked,
                    origin=origin,
                )
            except (Invalid, NotFound) as exc:
                raise Invalid(
                    f"{filename}:{number}: {exc.message}", field="file", code=exc.code, file=filename, line=number
                ) from None
            count += 1
    return count
