"""``yiwang lake ...``: the lake on the command line (``sql``, ``tables``, ``compact``).

Commands run as the platform unless ``--user`` names an account; the same permission, scope
and reason rules apply as in the web, and every query is audited.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yiwang import org
from yiwang.core import commands
from yiwang.core.audit import Origin
from yiwang.core.commands import UserOption, actor_named
from yiwang.core.errors import YiwangError

app = typer.Typer(no_args_is_help=True, help="The data lake: tables, history, read-only SQL.")
err = Console(stderr=True, soft_wrap=True)
ORIGIN = Origin(ip="cli")


def platform():
    """Settings and sessions of the installation, after every domain has registered (governance
    subscribes to the lake's reads, so each query is in the lineage)."""
    from yiwang.app import create_app

    return commands.platform(lambda settings, factory: create_app(settings, session_factory=factory))


def fail(exc: YiwangError, as_json: bool) -> None:
    body = {
        "error": exc.code,
        "message": exc.message,
        **{k: v for k, v in exc.detail.items() if isinstance(v, str | int | float)},
    }
    if as_json:
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    else:
        where = "".join(f" {k}={v}" for k, v in body.items() if k not in ("error", "message"))
        err.print(f"[red]{escape(exc.code)}[/red]: {escape(exc.message)}{escape(where)}")
    raise typer.Exit(2)


@app.command("sql")
def sql(
    query: str = typer.Argument(..., help='One SELECT, e.g. "SELECT count(*) FROM share.population".'),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    user: UserOption = None,
    reason: str = typer.Option(None, "--reason", help="Reason for reading raw, clean or quarantine rows."),
    as_of: str = typer.Option(None, "--as-of", help="Read the tables as of a date (2026-11-01) or ISO date-time."),
    limit: int = typer.Option(1000, "--limit", min=1, max=10_000, help="Rows returned at most."),
) -> None:
    """Run one read-only SELECT over raw.<name>, clean.<name> and share.<name> (audited)."""
    from yiwang.lake import queries

    settings, factory = platform()
    with factory() as session:
        actor = actor_named(session, user, org.actor_for_username)
        try:
            result = queries.run_sql(
                session,
                actor=actor,
                settings=settings,
                sql=query,
                reason=reason,
                as_of=as_of,
                limit=limit,
                origin=ORIGIN,
            )
        except YiwangError as exc:
            fail(exc, as_json)
    if as_json:
        sys.stdout.write(result.model_dump_json() + "\n")
        return
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("" if v is None else escape(str(v)) for v in row))
    Console(soft_wrap=True).print(table)
    err.print(f"{result.row_count} rows{' (cut)' if result.truncated else ''} in {result.seconds} s")


@app.command("tables")
def tables(as_json: bool = typer.Option(False, "--json", help="Print JSON."), user: UserOption = None) -> None:
    """Resources of the data scope with their mount state and rows per zone."""
    from yiwang.lake import queries

    settings, factory = platform()
    with factory() as session:
        rows = queries.overview(session, actor=actor_named(session, user, org.actor_for_username), settings=settings)
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False) + "\n")
        return
    table = Table("name", "mounted", "raw", "clean", "share", "quarantine")
    for r in rows:
        table.add_row(
            r.name, "yes" if r.mounted else "", *(str(r.zones[z].rows) for z in ("raw", "clean", "share", "quarantine"))
        )
    Console().print(table)


@app.command("compact")
def compact(
    name: str = typer.Argument(..., help="Catalog resource name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    user: UserOption = None,
) -> None:
    """Re-encode a resource's zone tables with the lake's codec (loads write them uncompressed, for speed)."""
    from yiwang.lake import service

    settings, factory = platform()
    with factory() as session:
        try:
            actor = actor_named(session, user, org.actor_for_username)
            done = service.compact(session, actor=actor, settings=settings, name=name, origin=ORIGIN)
        except YiwangError as exc:
            fail(exc, as_json)
    if as_json:
        sys.stdout.write(json.dumps({"snapshots": done}, ensure_ascii=False) + "\n")
        return
    for table, snapshot in done.items():
        Console().print(f"{table}: {'snapshot ' + str(snapshot) if snapshot else 'empty, nothing to rewrite'}")
