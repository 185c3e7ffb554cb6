"""One governed load: source → engine → one atomic lake load of raw, clean, share and quarantine.

The steps keep the database out of the lake's way: the load record and the START lineage event
are committed first, the engine streams the source into the lake with no transaction open (on
SQLite the Iceberg catalog shares the database file and its single writer lock), and the
outcome — counts, quality, snapshots, the catalog's mount and load facts, the audit entry and
the COMPLETE or FAIL event — is committed together afterwards. A failure anywhere aborts the
lake load, so every zone keeps its previous snapshot.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import structlog
from sqlalchemy.orm import Session, sessionmaker

from yiwang import catalog, lake
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.errors import Invalid, NotFound, PayloadTooLarge, YiwangError
from yiwang.core.i18n import _
from yiwang.core.lake import Target, WriteMode
from yiwang.core.security import Actor
from yiwang.governance import keys as keymod
from yiwang.governance import lineage
from yiwang.governance.engine import ResourceRules, Sinks, SourceError, run
from yiwang.governance.engine.errors import FILE_TOO_LARGE
from yiwang.governance.engine.rules import PseudonymMask
from yiwang.governance.lake_sinks import LakeLoad
from yiwang.governance.models import Load
from yiwang.governance.queries import public
from yiwang.governance.settings import get_governance_settings

log = structlog.get_logger("yiwang.governance.service")

MODES = ("replace", "append", "upsert")
LOAD_ID_COLUMN = "_load_id"
ROW_KEY_PREFIX = "_key_"
HEARTBEAT_SECONDS = 2.0


class LoadFailed(Invalid):
    """The source could not be loaded as a whole; ``detail`` names code, file, line and column."""

    code = "load_failed"


def source_digest(path: Path) -> tuple[str, int]:
    """SM3 and size of a file, read in 1 MB chunks (memory stays flat)."""
    from cryptography.hazmat.primitives import hashes

    digest, size = hashes.Hash(hashes.SM3()), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.finalize().hex(), size


def digest_in_background(path: Path) -> Future:
    """``source_digest`` on a thread of its own, so it reads the file while the engine does (SM3
    releases the GIL; the engine leaves a core mostly free) instead of in a pass before the load."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="sm3")
    try:
        return pool.submit(source_digest, path)
    finally:
        pool.shutdown(wait=False)


def resource_and_rules(
    session: Session, *, actor: Actor, name: str
) -> tuple[catalog.ResourcePublic, catalog.RulesPublic]:
    """The entry (which the actor must be allowed to load) and its published governance rules."""
    res = lake.resource_to_load(session, actor=actor, name=name)
    try:
        rules = catalog.resource_rules(session, name)
    except NotFound:
        raise Invalid(
            _("%(name)s has no governance rules yet: declare them in the catalog entry first.", name=name),
            field="rules",
            code="no_rules",
        ) from None
    return res, rules


def check_mode(mode: str, rules: ResourceRules) -> None:
    if mode not in MODES:
        raise Invalid(_("Unknown mode %(mode)s: use replace, append or upsert.", mode=mode), field="mode")
    if mode == "upsert" and not rules.unique_keys:
        raise Invalid(
            _("Upsert needs a unique key in %(name)s's rules (unique_keys).", name=rules.resource),
            field="mode",
            code="no_key",
        )


def create_load(
    session: Session,
    *,
    actor: Actor,
    name: str,
    mode: str,
    source_name: str,
    origin_kind: str,
    options: dict | None = None,
    status: str = "running",
    upload_path: str | None = None,
    source_sm3: str | None = None,
    source_bytes: int | None = None,
    resubmit_of: str | None = None,
    origin: Origin,
) -> Load:
    """Check the actor, rules and mode; record the load (queued or running) and commit."""
    res, rules_pub = resource_and_rules(session, actor=actor, name=name)
    check_mode(mode, ResourceRules.from_dict(rules_pub.rules))
    now = db.utcnow()
    row = Load(
        id=uuid.uuid4().hex,
        resource=name,
        department_id=res.provider.id,
        mode=mode,
        status=status,
        origin=origin_kind,
        source_name=source_name[:300],
        source_sm3=source_sm3,
        source_bytes=source_bytes,
        upload_path=upload_path,
        options=json.dumps(options or {}, ensure_ascii=False),
        actor_username=actor.username,
        actor_id=actor.user_id,
        created_at=now,
        started_at=now if status == "running" else None,
        heartbeat_at=now if status == "running" else None,
        run_id=lineage.new_run_id(),
        rules_version=rules_pub.version,
        resubmit_of=resubmit_of,
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="governance.load_requested",
        target_type="catalog_resource",
        target_id=name,
        origin=origin,
        detail={
            "load_id": row.id,
            "mode": mode,
            "source": source_name[:300],
            "sm3": source_sm3,
            "bytes": source_bytes,
            "status": status,
        },
    )
    db.commit(session)
    return row


def engine_rules(rules: ResourceRules) -> ResourceRules:
    """The rules as the engine runs them: plus a pseudonymous copy of the key, the share zone's upsert key."""
    if not rules.unique_keys:
        return rules
    copy = rules.model_copy(deep=True)
    for i, column in enumerate(rules.unique_keys[0]):
        copy.column(column).extra_masks[f"{ROW_KEY_PREFIX}{i}"] = PseudonymMask(key_id=keymod.ROW_KEY_ID)
    return copy


def targets(mode: str, rules: ResourceRules) -> dict[str, Target]:
    if mode == "replace":
        return {z: Target(WriteMode.REPLACE) for z in ("raw", "clean", "share")}
    if mode == "append":
        return {z: Target(WriteMode.APPEND) for z in ("raw", "clean", "share")}
    key = tuple(rules.unique_keys[0])
    return {
        "raw": Target(WriteMode.APPEND),
        "clean": Target(WriteMode.UPSERT, key=key),
        "share": Target(WriteMode.UPSERT, key=tuple(f"{ROW_KEY_PREFIX}{i}" for i in range(len(key)))),
    }


class _Tagged:
    """A zone sink that adds the load id to every row (and counts rows for progress)."""

    def __init__(self, sink, load_id: str, counter: list[int] | None = None) -> None:
        self.sink, self.counter = sink, counter
        self.tag = pa.array([load_id], pa.string())

    def write(self, batch: pa.RecordBatch) -> None:
        ids = self.tag.take(pa.array(np.zeros(batch.num_rows, dtype=np.int32)))
        self.sink.write(pa.RecordBatch.from_arrays([*batch.columns, ids], names=[*batch.schema.names, LOAD_ID_COLUMN]))
        if self.counter is not None:
            self.counter[0] += batch.num_rows

    def close(self) -> None:
        self.sink.close()

    def abort(self) -> None:
        self.sink.abort()


class _Heartbeat(threading.Thread):
    """Moves the load's heartbeat and progress while it runs (own short transactions)."""

    def __init__(
        self, factory: sessionmaker, load_id: str, counter: list[int], on_progress: Callable[[int], None] | None
    ) -> None:
        super().__init__(name=f"load-{load_id[:8]}", daemon=True)
        self.factory, self.load_id, self.counter, self.on_progress = factory, load_id, counter, on_progress
        self.stop = threading.Event()

    def run(self) -> None:
        last = 0.0
        while not self.stop.wait(0.25):
            if self.on_progress is not None:
                self.on_progress(self.counter[0])
            if time.monotonic() - last >= HEARTBEAT_SECONDS:
                last = time.monotonic()
                try:
                    with self.factory() as session:
                        row = session.get(Load, self.load_id)
                        if row is not None:
                            row.progress_rows, row.heartbeat_at = self.counter[0], db.utcnow()
                            session.commit()
                except Exception:
                    pass


def run_load(
    factory: sessionmaker,
    *,
    settings: Settings,
    load_id: str,
    actor: Actor,
    source: Any,
    source_options: dict | None = None,
    origin: Origin,
    on_progress: Callable[[int], None] | None = None,
    digest: Future | None = None,
):
    """Run a recorded load to its end; returns ``LoadPublic``; raises ``LoadFailed`` (the lake unchanged).

    ``digest``: the source's ``(sm3, bytes)`` being computed meanwhile (``digest_in_background``);
    it is recorded with the outcome (the load row and the ``governance.load`` audit entry)."""
    the_lake = lake.lake_for(settings)
    with factory() as session:
        row = session.get(Load, load_id)
        rules_pub = catalog.resource_rules(session, row.resource, row.rules_version)
        rules = ResourceRules.from_dict(rules_pub.rules)
        name, mode, run_id, department_id = row.resource, row.mode, row.run_id, row.department_id
        row.status, row.started_at, row.heartbeat_at = "running", row.started_at or db.utcnow(), db.utcnow()
        inputs, outputs = lineage.load_datasets(the_lake.location, rules, source_ns="file", source_name=row.source_name)
        start = lineage.store(
            session,
            lineage.run_event("START", run_id=run_id, job=f"ingest.{name}", inputs=inputs, outputs=outputs),
            resource=name,
            department_id=department_id,
        )
        session.commit()
        forwards = [(start.id, start.payload)]
    gov = get_governance_settings()
    lineage.forward_later(settings.openlineage_url, forwards, factory=factory, retries=gov.forward_retries)
    counter = [0]
    beat = _Heartbeat(factory, load_id, counter, on_progress)
    beat.start()
    load = LakeLoad(the_lake, name, modes=targets(mode, rules), load_id=load_id)
    zones = load.sinks()
    sinks = Sinks(
        raw=_Tagged(zones.raw, load_id, counter),
        clean=_Tagged(zones.clean, load_id),
        share=_Tagged(zones.share, load_id),
        quarantine=_Tagged(zones.quarantine, load_id),
    )
    is_path = isinstance(source, str | Path) and "://" not in str(source)
    options = {
        **({"max_bytes": gov.max_file_mb << 20} if is_path else {}),
        **reader_options(str(source), source_options or {}),
    }
    started = time.perf_counter()
    failure: dict | None = None
    summary = None
    try:
        summary = run(
            source,
            engine_rules(rules),
            sinks,
            keys=keymod.keys_for(settings, rules),
            source_options=options if not hasattr(source, "batches") else None,
        )
        if load.result is None:
            raise RuntimeError("the lake load did not commit")
    except SourceError as exc:
        failure = exc.to_dict()
        failure["file"] = row.source_name if exc.file else None
    except Exception as exc:
        failure = {
            "code": "load_failed",
            "message": str(exc)[:1000] or type(exc).__name__,
            "file": row.source_name,
            "line": None,
            "column": None,
            "details": {"type": type(exc).__name__},
        }
    finally:
        beat.stop.set()
        beat.join()
    seconds = time.perf_counter() - started
    sm3 = _digest_result(digest)
    if failure is not None:
        _record_failure(
            factory,
            settings,
            load_id=load_id,
            actor=actor,
            failure=failure,
            seconds=seconds,
            origin=origin,
            inputs=inputs,
            outputs=outputs,
            sm3=sm3,
        )
        status = 413 if failure["code"] == FILE_TOO_LARGE else 422
        error = (PayloadTooLarge if status == 413 else LoadFailed)(
            _("%(file)s was not loaded: %(problem)s", file=row.source_name, problem=failure["message"]),
            code=failure["code"],
            **{k: failure.get(k) for k in ("file", "line", "column")},
            load_id=load_id,
        )
        raise error
    return _record_success(
        factory,
        settings,
        load_id=load_id,
        actor=actor,
        summary=summary,
        result=load.result,
        rules=rules,
        seconds=seconds,
        origin=origin,
        source_name=row.source_name,
        sm3=sm3,
    )


def _digest_result(digest: Future | None) -> str | None:
    try:
        return digest.result()[0] if digest is not None else None
    except OSError:  # the file went away after the engine read it: the load stands, without its digest
        return None


def _record_success(
    factory, settings, *, load_id, actor, summary, result, rules, seconds, origin, source_name, sm3=None
):
    the_lake = lake.lake_for(settings)
    rows = {
        "raw": summary.rows_read,
        "clean": summary.rows_accepted,
        "share": summary.rows_accepted,
        "quarantine": summary.rows_quarantined,
    }
    with factory() as session:
        row = session.get(Load, load_id)
        row.status, row.finished_at, row.seconds = "committed", db.utcnow(), round(seconds, 3)
        row.source_sm3 = row.source_sm3 or sm3
        row.rows_read, row.rows_accepted, row.rows_quarantined = (
            summary.rows_read,
            summary.rows_accepted,
            summary.rows_quarantined,
        )
        row.progress_rows = summary.rows_read
        row.by_rule = json.dumps(summary.quarantine_by_rule, ensure_ascii=False)
        row.quality = json.dumps(summary.quality, ensure_ascii=False, default=str)
        row.quality_score = summary.quality.get("overall")
        row.k_anonymity = json.dumps(summary.k_anonymity or {}, ensure_ascii=False, default=str)
        row.snapshots = json.dumps(dict(result.snapshots.items()))
        inputs, outputs = lineage.load_datasets(
            the_lake.location, rules, source_ns="file", source_name=source_name, rows=rows
        )
        complete = lineage.store(
            session,
            lineage.run_event(
                "COMPLETE", run_id=row.run_id, job=f"ingest.{row.resource}", inputs=inputs, outputs=outputs
            ),
            resource=row.resource,
            department_id=row.department_id,
        )
        audit.record(
            session,
            actor=actor,
            action="governance.load",
            target_type="catalog_resource",
            target_id=row.resource,
            origin=origin,
            detail={
                "load_id": load_id,
                "mode": row.mode,
                "rows_read": summary.rows_read,
                "rows_accepted": summary.rows_accepted,
                "rows_quarantined": summary.rows_quarantined,
                "snapshots": result.snapshots,
                "rules_version": row.rules_version,
                "sm3": row.source_sm3,
            },
        )
        session.commit()
        try:
            with db.unit_of_work(session):
                lake.mount(session, actor=actor, settings=settings, name=row.resource, origin=origin)
                catalog.record_load_summary(
                    session,
                    name=row.resource,
                    actor=actor,
                    origin=origin,
                    rules_applied=True,
                    masking_applied=True,
                    rules_version=row.rules_version,
                    rows_read=summary.rows_read,
                    rows_accepted=summary.rows_accepted,
                    rows_quarantined=summary.rows_quarantined,
                    detail={
                        "load_id": load_id,
                        "mode": row.mode,
                        "quality": summary.quality.get("overall"),
                        "snapshots": dict(result.snapshots),
                    },
                )
        except YiwangError as exc:  # the data is in the lake; say so rather than pretend the load failed
            log.warning("catalog facts not recorded", load_id=load_id, error=exc.message)
            row = session.get(Load, load_id)
            row.error = json.dumps({"code": "catalog_facts", "message": exc.message}, ensure_ascii=False)
            session.commit()
        out = public(row)
        forwards = [(complete.id, complete.payload)]
    lineage.forward_later(
        settings.openlineage_url, forwards, factory=factory, retries=get_governance_settings().forward_retries
    )
    return out


def _record_failure(factory, settings, *, load_id, actor, failure, seconds, origin, inputs, outputs, sm3=None) -> None:
    with factory() as session:
        row = session.get(Load, load_id)
        row.status, row.finished_at, row.seconds = "failed", db.utcnow(), round(seconds, 3)
        row.source_sm3 = row.source_sm3 or sm3
        row.error = json.dumps(failure, ensure_ascii=False, default=str)
        fail = lineage.store(
            session,
            lineage.run_event(
                "FAIL",
                run_id=row.run_id,
                job=f"ingest.{row.resource}",
                inputs=inputs,
                outputs=outputs,
                run_facets=lineage.error_facet(f"{failure['code']}: {failure['message']}"),
            ),
            resource=row.resource,
            department_id=row.department_id,
        )
        audit.record(
            session,
            actor=actor,
            action="governance.load",
            outcome="failed",
            target_type="catalog_resource",
            target_id=row.resource,
            origin=origin,
            detail={
                "load_id": load_id,
                "sm3": row.source_sm3,
                "error": {k: failure.get(k) for k in ("code", "message", "file", "line", "column")},
            },
        )
        session.commit()
        forwards = [(fail.id, fail.payload)]
    lineage.forward_later(
        settings.openlineage_url, forwards, factory=factory, retries=get_governance_settings().forward_retries
    )


def ingest_file(
    factory: sessionmaker,
    *,
    settings: Settings,
    actor: Actor,
    name: str,
    path: Path | str,
    mode: str = "append",
    options: dict | None = None,
    origin: Origin,
    origin_kind: str = "cli",
    on_progress: Callable[[int], None] | None = None,
):
    """Load a file (or a database URL) into ``name``'s zones now, in this thread; returns ``LoadPublic``.

    The file's SM3 is computed while the engine reads it (``digest_in_background``), not in a pass
    of its own before the load (README's command-line figures); it is recorded with the outcome."""
    text = str(path)
    is_db = "://" in text
    if not is_db and not Path(text).is_file():
        raise Invalid(_("No such file: %(path)s", path=text), field="file", code="no_such_file")
    size = None if is_db else Path(text).stat().st_size
    shown = _redact_url(text) if is_db else Path(text).name
    with factory() as session:
        row = create_load(
            session,
            actor=actor,
            name=name,
            mode=mode,
            source_name=shown,
            origin_kind=origin_kind,
            options=options,
            source_bytes=size,
            origin=origin,
        )
        load_id = row.id
    digest = None  # a file too large is refused by the engine unread: no digest either
    if size is not None and size <= get_governance_settings().max_file_mb << 20:  # a file, not a database
        digest = digest_in_background(Path(text))
    return run_load(
        factory,
        settings=settings,
        load_id=load_id,
        actor=actor,
        source=text,
        source_options=options,
        origin=origin,
        on_progress=on_progress,
        digest=digest,
    )


_OPTIONS = {"csv": ("encoding", "delimiter"), "xlsx": ("sheet",), "json": ("encoding",), "sql": ("table", "query")}
_KIND = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
}


def reader_options(location: str, options: dict) -> dict:
    """Only the options the source's reader takes (an encoding means nothing to an XLSX file)."""
    kind = "sql" if "://" in location else _KIND.get(Path(location).suffix.lower(), "csv")
    return {k: v for k, v in options.items() if k in _OPTIONS[kind] and v}


def queue_file(
    session: Session,
    *,
    actor: Actor,
    name: str,
    path: Path,
    mode: str = "append",
    options: dict | None = None,
    origin: Origin,
    origin_kind: str = "upload",
) -> Load:
    """Queue a file already on disk (under ``YIWANG_HOME``) for the load worker; it is removed after the load."""
    sm3, size = source_digest(Path(path))
    return create_load(
        session,
        actor=actor,
        name=name,
        mode=mode,
        source_name=Path(path).name,
        origin_kind=origin_kind,
        options=options,
        status="queued",
        upload_path=str(path),
        source_sm3=sm3,
        source_bytes=size,
        origin=origin,
    )


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def failure_of(exc: YiwangError) -> dict:
    return {
        "code": exc.code,
        "message": exc.message,
        **{k: v for k, v in exc.detail.items() if k in ("file", "line", "column", "load_id")},
    }
