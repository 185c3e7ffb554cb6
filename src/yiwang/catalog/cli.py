"""``yiwang catalog ...``: entries from files, and the catalog on the command line.

``apply`` runs as the platform unless ``--department`` names the department whose data officer
it stands in for; then, as in the web, only that department's entries may be touched.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yiwang import org
from yiwang.catalog import apply as files
from yiwang.catalog import queries, yamlio
from yiwang.catalog.problems import Problem, SpecInvalid
from yiwang.core import commands, db
from yiwang.core.audit import Origin
from yiwang.core.errors import YiwangError
from yiwang.core.i18n import _
from yiwang.core.security import SYSTEM_ACTOR, Actor, permissions_for, scopes_for

app = typer.Typer(no_args_is_help=True, help="The government information resource catalog.")
err = Console(stderr=True, soft_wrap=True)
ORIGIN = Origin(ip="cli")


def _factory():
    """The platform's sessions, after every domain has registered (so governance's rules validator is in)."""
    from yiwang.app import create_app  # the CLI sees the platform as the web does

    return commands.platform(lambda settings, factory: create_app(settings, session_factory=factory))[1]


def _officer_of(session, key: str) -> Actor:
    dept = org.get_department_by_key(session, key)
    role = frozenset({org.roles.DATA_OFFICER})
    return Actor(
        user_id=None,
        username=f"system:{key}",
        display_name=dept.name,
        roles=role,
        permissions=permissions_for(role),
        scopes=scopes_for(role),
        kind="system",
        department_id=dept.id,
        department_name=dept.name,
        department_ids=org.department_subtree_ids(session, dept.id),
        auth_method="system",
    )


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise SpecInvalid([Problem((), _("no such file"), source=str(path))])
    with path.open("rb") as fh:
        return fh.read(yamlio.MAX_FILE_BYTES + 1)


def _red_error() -> str:
    return "[red]" + escape(_("error")) + "[/red] "


class _DryRun(Exception):
    """Raised to roll back a dry run after everything was checked."""


@app.command("apply")
def apply(
    file: Path = typer.Argument(..., help="YAML file with one entry, or several separated by ---."),
    department: str = typer.Option(None, help="Act as a data officer of this department (key, e.g. public_security)."),
    submit: bool = typer.Option(False, help="Submit the entries for review after saving."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, write nothing."),
) -> None:
    """Create or update entries (fields and governance rules) from a file: all of them, or none."""
    try:
        docs = yamlio.load(_read(file), source=str(file))
        with _factory()() as session:
            actor = _officer_of(session, department) if department else SYSTEM_ACTOR
            try:
                with db.unit_of_work(session):
                    results = files.apply_documents(session, actor=actor, docs=docs, origin=ORIGIN, submit=submit)
                    if dry_run:
                        raise _DryRun
            except _DryRun:
                pass
    except SpecInvalid as exc:
        for problem in exc.problems:
            err.print(_red_error() + escape(str(problem)), highlight=False)
        err.print(escape(_("%(file)s: %(n)s problem(s); nothing was written.", file=str(file), n=len(exc.problems))))
        raise typer.Exit(2) from None
    except YiwangError as exc:
        err.print(_red_error() + escape(exc.message), highlight=False)
        err.print(escape(_("%(file)s: nothing was written.", file=str(file))))
        raise typer.Exit(2) from None
    for r in results:
        line = f"{r.name}: {r.action}, {r.status} (revision {r.revision})" + (" [dry run]" if dry_run else "")
        err.print(escape(line), highlight=False)


@app.command("list")
def list_entries(
    q: str = typer.Option(None, help="Search text, e.g. 人口."),
    status: str = typer.Option(None, help="draft, submitted, rejected or published."),
) -> None:
    """List entries (all of them: the command runs as the platform)."""
    with _factory()() as session:
        try:
            rows, total = queries.list_resources(session, actor=SYSTEM_ACTOR, q=q, status=status, limit=500)
        except YiwangError as exc:
            err.print(_red_error() + escape(exc.message))
            raise typer.Exit(2) from None
    table = Table("name", "code", "title", "provider", "status", "version")
    for r in rows:
        table.add_row(r.name, r.code or "", r.title, r.provider, r.status, str(r.published_version or ""))
    Console().print(table)
    err.print(f"{total} entries")


@app.command("show")
def show(name: str, version: int = typer.Option(None, help="A published version (default: the working copy).")) -> None:
    """Print an entry as YAML (``apply`` reads it back)."""
    with _factory()() as session:
        try:
            resource = queries.get_resource(
                session, actor=SYSTEM_ACTOR, name=name, version=version, working=version is None
            )
        except YiwangError as exc:
            err.print(_red_error() + escape(exc.message))
            raise typer.Exit(2) from None
    typer.echo(yamlio.dump(resource.spec), nl=False)
