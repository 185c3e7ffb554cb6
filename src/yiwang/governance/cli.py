"""``yiwang ingest NAME FILE``: load a file (or a database URL) into a resource now, with a progress bar.

``--json`` prints one JSON object: the load summary (``rows_read``, ``rows_accepted``,
``rows_quarantined``, ``quarantine_by_rule``, ``snapshot_id``, quality, snapshots per zone).
A refused file prints code, file, line and column, and exits 2; the lake is unchanged.
"""

from __future__ import annotations

import json
import sys
import time

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from yiwang.core import commands
from yiwang.core.audit import Origin
from yiwang.core.commands import UserOption, actor_named
from yiwang.core.errors import YiwangError

err = Console(stderr=True, soft_wrap=True)
ORIGIN = Origin(ip="cli")
app = typer.Typer(no_args_is_help=True, help="Governance: loads, recovery of killed loads.")


def platform():
    """Settings and sessions of the installation with governance and the domains below it imported
    (the catalog's rules validator is installed at import). No web application is built and no
    domain above governance is imported, so a load starts at once. (``register()`` also subscribes
    governance to the lake's SQL reads, which these commands do not make.)"""
    import yiwang.governance  # noqa: F401

    return commands.platform()


def ingest(
    name: str = typer.Argument(..., help="Catalog resource name, e.g. population."),
    file: str = typer.Argument(..., help="CSV/TSV/XLSX/JSON/NDJSON file, or a SQLAlchemy database URL."),
    mode: str = typer.Option("append", "--mode", help="replace, append or upsert (by the rules' unique key)."),
    encoding: str = typer.Option(
        None, "--encoding", help="Declare the encoding (utf-8, gbk, gb18030); detected when omitted."
    ),
    sheet: str = typer.Option(None, "--sheet", help="XLSX sheet to read (needed when there are several)."),
    table: str = typer.Option(None, "--table", help="Database URL: the table to pull."),
    query: str = typer.Option(None, "--query", help="Database URL: a SELECT to pull instead of a table."),
    user: UserOption = None,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Load FILE into NAME's raw, clean, share and quarantine zones (one atomic lake load)."""
    from yiwang import org
    from yiwang.governance import lineage
    from yiwang.governance import service as ingest_mod

    settings, factory = platform()
    with factory() as session:
        actor = actor_named(session, user, org.actor_for_username)
    options = {k: v for k, v in (("encoding", encoding), ("sheet", sheet), ("table", table), ("query", query)) if v}
    started = time.perf_counter()
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[rows]}"),
            TimeElapsedColumn(),
            console=err,
            transient=as_json,
            disable=not err.is_terminal and as_json,
        ) as bar:
            task = bar.add_task(f"{name} ← {file.split('/')[-1]}", total=None, rows="0 rows")
            result = ingest_mod.ingest_file(
                factory,
                settings=settings,
                actor=actor,
                name=name,
                path=file,
                mode=mode,
                options=options,
                origin=ORIGIN,
                origin_kind="cli",
                on_progress=lambda n: bar.update(task, rows=f"{n:,} rows read"),
            )
            bar.update(task, rows=f"{result.rows_read:,} rows read")
    except YiwangError as exc:
        lineage.wait_forwarding(10)
        body = {
            "error": exc.code,
            "message": exc.message,
            **{k: v for k, v in exc.detail.items() if k in ("file", "line", "column", "load_id", "field")},
        }
        if as_json:
            sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
        else:
            where = ":".join(str(body[k]) for k in ("file", "line") if body.get(k) is not None)
            col = f" [{body['column']}]" if body.get("column") else ""
            err.print(f"[red]{escape(exc.code)}[/red] {escape(where)}{escape(col)}: {escape(exc.message)}")
        raise typer.Exit(2) from None
    lineage.wait_forwarding(15)
    summary = result.model_dump(mode="json")
    summary = {
        "load_id": summary["id"],
        "resource": name,
        "mode": mode,
        "rows_read": summary["rows_read"],
        "rows_accepted": summary["rows_accepted"],
        "rows_quarantined": summary["rows_quarantined"],
        "quarantine_by_rule": summary["quarantine_by_rule"],
        "snapshot_id": summary["snapshot_id"],
        "snapshots": summary["snapshots"],
        "quality": summary["quality"],
        "rules_version": summary["rules_version"],
        "source_sm3": summary["source_sm3"],
        "seconds": round(time.perf_counter() - started, 3),
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        return
    err.print(
        f"[green]loaded[/green] {summary['rows_read']:,} rows: {summary['rows_accepted']:,} accepted, "
        f"{summary['rows_quarantined']:,} quarantined "
        f"({', '.join(f'{k} {v}' for k, v in summary['quarantine_by_rule'].items()) or 'none'}); "
        f"quality {summary['quality'].get('overall') or 0:.3f}; snapshot {summary['snapshot_id']}; "
        f"{summary['seconds']} s"
    )


@app.command("recover")
def recover(stale: int = typer.Option(None, "--stale-seconds", help="Heartbeat age that counts as killed.")) -> None:
    """Settle loads whose process was killed (committed if the lake has them, else failed)."""
    from yiwang.governance import jobs

    settings, factory = platform()
    counts = jobs.recover(factory, settings, stale_seconds=stale)
    sys.stdout.write(json.dumps(counts) + "\n")


@app.command("loads")
def list_loads(
    name: str = typer.Argument(None, help="Resource name (all in scope when omitted)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent loads, newest first."""
    from yiwang.core.security import SYSTEM_ACTOR
    from yiwang.governance import queries

    _settings, factory = platform()
    with factory() as session:
        rows = [queries.public(r) for r in queries.list_loads(session, actor=SYSTEM_ACTOR, resource=name, limit=50)]
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False) + "\n")
        return
    for r in rows:
        err.print(
            f"{r.created_at:%Y-%m-%d %H:%M} {r.id[:12]} {r.resource:20} {r.status:9} {r.mode:7} "
            f"{r.rows_read:>10,} read {r.rows_quarantined:>8,} quarantined  {escape(r.source_name)}"
        )
