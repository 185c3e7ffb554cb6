"""Lineage of reads: every staff query over lake tables becomes a ``lake.sql`` run (START, COMPLETE)."""

from __future__ import annotations

from yiwang import lake
from yiwang.core.config import get_settings
from yiwang.governance import lineage


def on_tables_read(event: lake.TablesRead) -> None:
    session = event.session
    settings = event.settings or get_settings()
    namespace = lake.lake_for(settings).location
    run_id = lineage.new_run_id()
    inputs = [lineage.dataset(namespace, t) for t in event.tables]
    job = f"lake.sql.{event.actor}"[:200]
    sql_facet = {"sql": lineage.facet("SQLJobFacet", "1-1-0", query=event.query)}
    for kind in ("START", "COMPLETE"):
        ev = lineage.run_event(kind, run_id=run_id, job=job, inputs=inputs, outputs=[])
        ev["job"]["facets"].update(sql_facet)
        resource = event.tables[0].split(".", 1)[1] if len(event.tables) == 1 else None
        row = lineage.store(
            session,
            ev,
            resource=resource,
            department_id=event.department_ids[0] if len(event.department_ids) == 1 else None,
        )
        lineage.forward_after_commit(session, settings.openlineage_url, row)
