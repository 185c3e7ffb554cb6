"""OpenLineage RunEvents: built for every load and every staff query, validated, stored, forwarded.

A load is one run of the job ``ingest.<resource>``: START when it begins, then COMPLETE or
FAIL. Its input is the source file; its outputs are the four zone tables, with the schema
facet, output statistics, and a column-lineage facet mapping each clean column to its raw
column and each share column to the clean column it masks (``masking: true`` and the mask
method as the transformation). A staff query is a run of ``lake.sql`` reading the tables it
names, so the graph reaches whatever reads the data later.

Events are validated with ``jsonschema`` against ``openlineage_runevent.schema.json``. No
registry package ships the upstream OpenLineage JSON schema, so that file is the project's own
transcription of the 2-0-2 RunEvent and the facets used here; validation catches any event
that breaks it. Forwarding to ``YIWANG_OPENLINEAGE_URL`` happens after commit on a background
thread with retries; a failure is logged and recorded, and never fails the load.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from importlib import resources
from typing import Any
from urllib.parse import urlparse

import jsonschema
import structlog
from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from yiwang import __version__
from yiwang.core.db import utcnow
from yiwang.core.security import Actor, scope_filter
from yiwang.governance.engine import ResourceRules, default_mask
from yiwang.governance.engine.rules import KeepMask, SuppressMask
from yiwang.governance.models import LineageEvent

log = structlog.get_logger("yiwang.governance.lineage")
PRODUCER = f"https://yiwang.example/yiwang/{__version__}"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET = "https://openlineage.io/spec/facets/{version}/{name}.json#/$defs/{name}"
JOB_NAMESPACE = "yiwang"
ZONES = ("raw", "clean", "share", "quarantine")


class LineageInvalid(ValueError):
    """An event that does not validate (a bug in the producer, never the user's input)."""


@functools.cache
def validator() -> jsonschema.protocols.Validator:
    text = (resources.files("yiwang.governance") / "openlineage_runevent.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = urlparse(value)
        return bool(parsed.scheme) and (bool(parsed.netloc) or bool(parsed.path))

    return jsonschema.Draft202012Validator(schema, format_checker=checker)


def validate(event: dict) -> None:
    errors = sorted(validator().iter_errors(event), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(event)"
        raise LineageInvalid(f"OpenLineage event invalid at {where}: {first.message}")


def facet(name: str, version: str, **fields) -> dict:
    return {"_producer": PRODUCER, "_schemaURL": FACET.format(version=version, name=name), **fields}


def now_iso() -> str:
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_event(
    event_type: str,
    *,
    run_id: str,
    job: str,
    inputs: list[dict],
    outputs: list[dict],
    run_facets: dict | None = None,
    event_time: str | None = None,
) -> dict:
    return {
        "eventType": event_type,
        "eventTime": event_time or now_iso(),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {
            "namespace": JOB_NAMESPACE,
            "name": job,
            "facets": {
                "jobType": facet(
                    "JobTypeJobFacet",
                    "2-0-3",
                    processingType="BATCH",
                    integration="YIWANG",
                    jobType="INGEST" if job.startswith("ingest.") else "QUERY",
                )
            },
        },
        "inputs": inputs,
        "outputs": outputs,
    }


def dataset(namespace: str, name: str, **facets) -> dict:
    return {"namespace": namespace, "name": name, "facets": facets}


def _field(namespace: str, table: str, column: str, subtype: str, description: str, masking: bool) -> dict:
    return {
        "namespace": namespace,
        "name": table,
        "field": column,
        "transformations": [{"type": "DIRECT", "subtype": subtype, "description": description, "masking": masking}],
    }


def share_plan(rules: ResourceRules) -> list[tuple[str, str, str]]:
    """(share column, clean column, mask method) as the engine's masker builds the share zone."""
    plan: list[tuple[str, str, str]] = []
    for rule in rules.columns:
        for out, policy in ((rule.name, rule.mask or default_mask(rule)), *rule.extra_masks.items()):
            if isinstance(policy, SuppressMask) and policy.drop:
                continue
            plan.append((out, rule.name, policy.method))
    return plan


def load_datasets(
    lake_ns: str, rules: ResourceRules, *, source_ns: str, source_name: str, rows: dict[str, int] | None = None
) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs of one load, with schema, column lineage and (when known) row counts."""
    name = rules.resource
    columns = rules.column_names
    schema = lambda cols: facet("SchemaDatasetFacet", "1-1-1", fields=[{"name": c} for c in cols])  # noqa: E731
    source = dataset(source_ns, source_name, schema=schema(columns))
    raw_lineage = {
        c: {"inputFields": [_field(source_ns, source_name, c, "IDENTITY", "as received", False)]} for c in columns
    }
    clean_lineage = {
        c.name: {
            "inputFields": [
                _field(lake_ns, f"raw.{name}", c.name, "TRANSFORMATION", f"normalised and validated as {c.kind}", False)
            ]
        }
        for c in rules.columns
    }
    share_lineage = {
        out: {
            "inputFields": [
                _field(
                    lake_ns,
                    f"clean.{name}",
                    src,
                    "IDENTITY" if method == "keep" else "TRANSFORMATION",
                    f"mask: {method}",
                    method != KeepMask().method,
                )
            ]
        }
        for out, src, method in share_plan(rules)
    }
    quarantine_lineage = {
        c: {"inputFields": [_field(lake_ns, f"raw.{name}", c, "IDENTITY", "rejected row as received", False)]}
        for c in columns
    }
    lineage = {"raw": raw_lineage, "clean": clean_lineage, "share": share_lineage, "quarantine": quarantine_lineage}
    outputs = []
    for zone in ZONES:
        out = dataset(
            lake_ns,
            f"{zone}.{name}",
            schema=schema(list(lineage[zone])),
            columnLineage=facet("ColumnLineageDatasetFacet", "1-2-0", fields=lineage[zone]),
        )
        if rows is not None and zone in rows:
            out["outputFacets"] = {
                "outputStatistics": facet("OutputStatisticsOutputDatasetFacet", "1-0-2", rowCount=int(rows[zone]))
            }
        outputs.append(out)
    return [source], outputs


def error_facet(message: str) -> dict:
    return {
        "errorMessage": facet("ErrorMessageRunFacet", "1-0-1", message=message[:2000], programmingLanguage="python")
    }


# Storage ------------------------------------------------------------------------


def store(session: Session, event: dict, *, resource: str | None, department_id: int | None) -> LineageEvent:
    """Validate and add one event in the caller's transaction."""
    validate(event)
    row = LineageEvent(
        run_id=event["run"]["runId"],
        event_type=event.get("eventType", "OTHER"),
        event_time=dt.datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00")),
        job_name=event["job"]["name"][:200],
        resource=resource,
        department_id=department_id,
        payload=json.dumps(event, ensure_ascii=False, separators=(",", ":")),
    )
    session.add(row)
    session.flush()
    return row


def events(
    session: Session,
    *,
    actor: Actor,
    resource: str | None = None,
    run_id: str | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[LineageEvent]:
    """Stored events the actor may see (their departments' resources), newest first."""
    stmt = select(LineageEvent).where(scope_filter(actor, department_col=LineageEvent.department_id))
    if resource:
        stmt = stmt.where(LineageEvent.resource == resource)
    if run_id:
        stmt = stmt.where(LineageEvent.run_id == run_id)
    if before_id:
        stmt = stmt.where(LineageEvent.id < before_id)
    return list(session.execute(stmt.order_by(LineageEvent.id.desc()).limit(limit)).scalars())


LAYERS = {"file": 0, "raw": 1, "clean": 2, "quarantine": 2, "share": 3, "job": 4}


def graph(rows: list[LineageEvent]) -> dict[str, Any]:
    """Datasets and readers of the stored events as a layered graph (file → raw → clean → share → readers).

    Dataset-to-dataset edges come from the loads' column-lineage facets, so the graph shows how
    data flows between zones, not just which job touched what; staff queries add reader nodes.
    """
    nodes: dict[str, dict] = {}
    edges: set[tuple[str, str]] = set()

    def node(namespace: str, name: str) -> str:
        key = f"{namespace}|{name}"
        kind = _kind({"namespace": namespace, "name": name})
        nodes.setdefault(key, {"id": key, "name": name, "kind": kind, "layer": LAYERS[kind]})
        return key

    for row in rows:
        if row.event_type != "COMPLETE":
            continue
        ev = json.loads(row.payload)
        job = ev["job"]["name"]
        if job.startswith("ingest."):
            for ds in ev.get("outputs", []):
                out = node(ds["namespace"], ds["name"])
                fields = ((ds.get("facets") or {}).get("columnLineage") or {}).get("fields") or {}
                for field in fields.values():
                    for source in field.get("inputFields", []):
                        edges.add((node(source["namespace"], source["name"]), out))
            continue
        reader = f"job:{job}"
        nodes.setdefault(reader, {"id": reader, "name": job, "kind": "job", "layer": LAYERS["job"]})
        for ds in ev.get("inputs", []):
            edges.add((node(ds["namespace"], ds["name"]), reader))
        for ds in ev.get("outputs", []):
            edges.add((reader, node(ds["namespace"], ds["name"])))
    ordered = sorted(nodes.values(), key=lambda n: (n["layer"], n["kind"], n["name"]))
    return {"nodes": ordered, "edges": [{"source": a, "target": b} for a, b in sorted(edges)]}


def _kind(ds: dict) -> str:
    zone = ds["name"].split(".", 1)[0]
    return zone if zone in ZONES and ds["namespace"] != "file" else "file"


# Forwarding ---------------------------------------------------------------------

_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openlineage-forward")
_pending: list[Future] = []


def forward_later(
    url: str | None, rows: list[tuple[int, str]], *, factory: sessionmaker | None = None, retries: int = 3
) -> None:
    """POST each stored event to ``url`` on the forwarding thread (no-op without a URL)."""
    if not url or not rows:
        return
    _pending[:] = [f for f in _pending if not f.done()]
    _pending.append(_pool.submit(_forward, url, rows, factory, retries))


def forward_after_commit(session: Session, url: str | None, row: LineageEvent, retries: int = 3) -> None:
    if not url:
        return
    sa_event.listen(
        session, "after_commit", lambda _s: forward_later(url, [(row.id, row.payload)], retries=retries), once=True
    )


def wait_forwarding(timeout: float = 30) -> None:
    """Block until queued forwards are done (commands call this before exiting)."""
    wait(list(_pending), timeout=timeout)


def _forward(url: str, rows: list[tuple[int, str]], factory: sessionmaker | None, retries: int) -> None:
    import httpx  # only when a URL is configured: commands that load without one do not pay for it

    with httpx.Client(timeout=5, trust_env=False) as client:
        for event_id, payload in rows:
            error = None
            for attempt in range(max(1, retries)):
                try:
                    response = client.post(url, content=payload, headers={"content-type": "application/json"})
                    if response.status_code < 300:
                        error = None
                        break
                    error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:300]
                time.sleep(min(0.2 * 2**attempt, 2))
            if error:
                log.warning("openlineage forward failed", url=url, event_id=event_id, error=error)
            if factory is not None:
                try:
                    with factory() as session:
                        session.execute(
                            update(LineageEvent)
                            .where(LineageEvent.id == event_id)
                            .values(forwarded_at=None if error else utcnow(), forward_error=error)
                        )
                        session.commit()
                except Exception as exc:
                    log.warning("openlineage forward status not saved", error=str(exc)[:200])


def new_run_id() -> str:
    return str(uuid.uuid4())
