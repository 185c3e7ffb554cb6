"""The ``yiwang`` command: start the platform, migrate, verify the audit ledger, run benchmarks.

Domains add their own command groups through ``DOMAIN_COMMANDS`` and top-level commands through
``TOP_COMMANDS``. Both are mounted lazily: the tables carry each entry's one-line help, so
``yiwang --help`` lists them without importing any domain, and a domain's module (with its
heavy libraries) is imported only when one of its commands runs (``LazyGroup``).
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from yiwang.core.commands import console, session_factory, settings_or_exit

if TYPE_CHECKING:
    from typer._click import Command, Context  # the Click that Typer vendors (no public alias)

    from yiwang.core.config import Settings

# command group name -> (module with a Typer `app`, one-line help shown by `yiwang --help`)
DOMAIN_COMMANDS: dict[str, tuple[str, str]] = {
    "org": ("yiwang.org.cli", "Organisation: users and roles."),
    "catalog": ("yiwang.catalog.cli", "The government information resource catalog."),
    "lake": ("yiwang.lake.cli", "The data lake: tables, history, read-only SQL."),
    "governance": ("yiwang.governance.cli", "Governance: loads, recovery of killed loads."),
    "events": ("yiwang.events.cli", "City event center: triage, API keys, model, timers."),
}
# top-level command -> ("module:function", one-line help)
TOP_COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": (
        "yiwang.governance.cli:ingest",
        "Load FILE into NAME's raw, clean, share and quarantine zones (one atomic lake load).",
    ),
}
# bench name -> "module:function(rows, ...) -> dict"
BENCHES: dict[str, str] = {
    "events": "yiwang.events.bench:run",
    "governance": "yiwang.governance.bench.run:cli_run",
    "cli": "yiwang.clibench:run",
}


class _Pending(TyperCommand):
    """Stands for a domain command in listings (name and help from the table) until it runs."""


class LazyGroup(TyperGroup):
    """The root group: domain commands are listed from the tables and imported when resolved."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (_target, help_text) in {**DOMAIN_COMMANDS, **TOP_COMMANDS}.items():
            self.commands.setdefault(name, _Pending(name, help=help_text, add_help_option=False))

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        if isinstance(cmd, _Pending):
            assert name is not None  # a command was found, so its name was
            cmd = self.commands[name] = load_command(name)
        if not gc.isenabled() and _started_by_main:  # the imports are done: collect from here on (see main)
            gc.freeze()
            gc.enable()
        return name, cmd, rest


def load_command(name: str) -> Command:
    """Import a domain command (group) of the tables and return it as a Click command."""
    command: Command
    if name in DOMAIN_COMMANDS:
        command = typer.main.get_group(importlib.import_module(DOMAIN_COMMANDS[name][0]).app)
    else:
        module, func = TOP_COMMANDS[name][0].split(":")
        holder = typer.Typer(add_completion=False)
        holder.command(name)(getattr(importlib.import_module(module), func))
        command = typer.main.get_command(holder)
    command.name = name
    return command


app = typer.Typer(
    cls=LazyGroup, no_args_is_help=True, add_completion=False, help="yiwang 一网 — digital government platform"
)
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit ledger.")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")


def prepare(settings: Settings) -> dict:
    """Migrate the database and load the reference city parts not loaded yet."""
    import yiwang.org  # noqa: F401  (defines the roles the seed uses)
    from yiwang.core import crypto
    from yiwang.core.db import make_engine, make_sessionmaker, upgrade
    from yiwang.core.logs import configure_logging
    from yiwang.reference import kunshan

    configure_logging(settings.log_level, settings.log_format)
    settings.home_path.mkdir(parents=True, exist_ok=True)
    crypto.configure_column_key(settings.data_key_bytes)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        loaded = kunshan.seed(session, settings)
    engine.dispose()
    return loaded


@app.command()
def up(
    host: str = typer.Option(None, help="Address to listen on (default YIWANG_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default YIWANG_PORT or 8000)."),
    workers: int = typer.Option(None, help="Web worker processes (default YIWANG_WORKERS or 1)."),
) -> None:
    """Start the platform: migrate, seed the Kunshan reference city on first start, serve HTTP."""
    from yiwang.core.serve import serve

    settings = settings_or_exit()
    loaded = prepare(settings)
    if loaded:
        console.print(f"[green]Loaded reference data:[/green] {', '.join(loaded)}")
    host = host or settings.host
    port = port or settings.port
    console.print(f"yiwang serving on [bold]http://{host}:{port}[/bold]  (state in {settings.home_path})")
    try:
        status = serve(host, port, workers or settings.workers, settings.log_level.lower())
    except OSError as exc:
        console.print(f"[red]Cannot listen on {host}:{port}: {exc.strerror or exc}[/red]")
        raise typer.Exit(2) from None
    if status:
        raise typer.Exit(status)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (also done by `yiwang up`)."""
    from yiwang.core.db import current_revisions, make_engine, upgrade

    settings = settings_or_exit()
    settings.home_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    console.print(f"database at revision(s): {', '.join(sorted(current_revisions(engine)))}")


@db_app.command("current")
def db_current() -> None:
    """Print the revision(s) the database is at, one per line (a read of alembic_version, no migration code)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = session_factory(settings_or_exit()).kw["bind"]
    try:
        with engine.connect() as conn:
            revisions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        console.print("[red]the database is not migrated[/red]: run `yiwang db upgrade`")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    sys.stdout.write("".join(f"{rev}\n" for rev in sorted(revisions)))


@app.command()
def seed() -> None:
    """Load the parts of the Kunshan reference city that are not loaded yet."""
    loaded = prepare(settings_or_exit())
    console.print(f"loaded: {', '.join(loaded) or 'nothing new'}")


@audit_app.command("verify")
def audit_verify(
    anchors: str = typer.Option(
        None, "--anchors", help="Anchor file (JSON lines) whose entries the chain must still hold."
    ),
    public_key: str = typer.Option(
        None, "--public-key", help="Anchor public key (128 hex digits); default the configured key's."
    ),
) -> None:
    """Check the hash chain in one snapshot; exit 1 and name the first bad entry if anything was altered."""
    from yiwang.core import audit

    settings = settings_or_exit()
    found: list = []
    if anchors is not None:
        try:
            from pathlib import Path

            found = audit.read_anchors(Path(anchors))
            public_key = public_key or audit.anchor_keypair(settings, create=False).public_hex
            if len(bytes.fromhex(public_key)) not in (64, 65):
                raise ValueError("an SM2 public key is 128 hex digits (X || Y)")
        except (OSError, ValueError, audit.LedgerError) as exc:  # CryptoError is a ValueError
            console.print(f"[red]cannot check anchors[/red]: {exc}")
            raise typer.Exit(2) from None
    result = audit.verify_snapshot(session_factory(settings), found, public_key=public_key)
    if result.ok:
        checked = f", {result.anchors} anchors hold" if anchors is not None else ""
        console.print(f"[green]audit ledger intact[/green]: {result.entries} entries verified{checked}")
        return
    where = f"entry #{result.first_bad_id}" if result.first_bad_id is not None else "its head"
    console.print(
        f"[red]audit ledger BROKEN at {where}[/red]: {result.problem} ({result.entries} entries verified before it)"
    )
    raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Sign the ledger head now and append it to the anchor file (web processes do it periodically)."""
    from yiwang.core import audit
    from yiwang.core.crypto import CryptoError

    settings = settings_or_exit()
    try:
        anchor = audit.write_anchor(
            session_factory(settings), settings.audit_anchor_path, audit.anchor_keypair(settings)
        )
    except (audit.LedgerError, CryptoError, OSError) as exc:
        console.print(f"[red]no anchor written[/red]: {exc}")
        raise typer.Exit(1) from None
    console.print(f"anchored entry #{anchor.last_id} ({anchor.last_hash[:16]}…) in {settings.audit_anchor_path}")


@audit_app.command("keygen")
def audit_keygen() -> None:
    """Print a new SM2 key pair for YIWANG_AUDIT_ANCHOR_KEY (the public key is the last 128 hex digits)."""
    from yiwang.core import crypto

    sys.stdout.write(crypto.sm2_keypair_hex(crypto.sm2_generate_keypair()) + "\n")


@app.command()
def bench(
    name: str = typer.Argument(..., help="Benchmark name."),
    rows: int = typer.Option(None, help="Rows / items to generate (benchmark default if omitted)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run a benchmark that measures a baseline in the same run and prints the ratio."""
    target = BENCHES.get(name)
    if target is None:
        console.print(f"[red]unknown benchmark {name!r}[/red]; available: {', '.join(sorted(BENCHES)) or 'none'}")
        raise typer.Exit(2)
    module, func = target.split(":")
    kwargs = {"rows": rows} if rows is not None else {}
    result = getattr(importlib.import_module(module), func)(**kwargs)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        for key, value in result.items():
            console.print(f"{key}: {value}")


_started_by_main = False


def main() -> None:
    """``yiwang``. Starting a command imports thousands of long-lived objects (modules, classes);
    the cyclic garbage collector is off while they load, and they are frozen out of its sight
    before the command runs (measured in ``yiwang bench cli``: ~10 % of the import time). At the
    end they are frozen again, so the interpreter's last collections do not walk them all."""
    global _started_by_main
    _started_by_main = True
    gc.disable()
    try:
        app()
    finally:
        gc.freeze()
        gc.disable()


if __name__ == "__main__":
    main()
