"""The ``yiwang`` command: start the platform, migrate, verify the audit ledger, run benchmarks.

Domains add their own command groups through ``DOMAIN_COMMANDS``.
"""

from __future__ import annotations

import importlib
import json
import sys

import typer

from yiwang.core.commands import console, session_factory, settings_or_exit
from yiwang.core.config import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="yiwang 一网 — digital government platform")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit ledger.")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")

DOMAIN_COMMANDS = {"org": "yiwang.org.cli", "catalog": "yiwang.catalog.cli", "lake": "yiwang.lake.cli", "governance": "yiwang.governance.cli", "events": "yiwang.events.cli"}  # command group name -> module with a Typer `app`
TOP_COMMANDS = {"ingest": "yiwang.governance.cli:ingest"}  # top-level command -> "module:function"
BENCHES: dict[str, str] = {"events": "yiwang.events.bench:run", "governance": "yiwang.governance.engine.bench:cli_run"}  # bench name -> "module:function(rows, ...) -> dict"


def prepare(settings: Settings) -> dict:
    """Migrate the database and load the reference city parts not loaded yet."""
    from yiwang.core import crypto
    from yiwang.core.db import make_engine, make_sessionmaker, upgrade
    from yiwang.core.logs import configure_logging
    from yiwang.reference import kunshan

    import yiwang.org  # noqa: F401  (defines the roles the seed uses)

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


@app.command()
def seed() -> None:
    """Load the parts of the Kunshan reference city that are not loaded yet."""
    loaded = prepare(settings_or_exit())
    console.print(f"loaded: {', '.join(loaded) or 'nothing new'}")


@audit_app.command("verify")
def audit_verify(
    anchors: str = typer.Option(None, "--anchors", help="Anchor file (JSON lines) whose entries the chain must still hold."),
    public_key: str = typer.Option(None, "--public-key", help="Anchor public key (128 hex digits); default the configured key's."),
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
    console.print(f"[red]audit ledger BROKEN at {where}[/red]: {result.problem} "
                  f"({result.entries} entries verified before it)")
    raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Sign the ledger head now and append it to the anchor file (web processes do it periodically)."""
    from yiwang.core import audit
    from yiwang.core.crypto import CryptoError

    settings = settings_or_exit()
    try:
        anchor = audit.write_anchor(session_factory(settings), settings.audit_anchor_path, audit.anchor_keypair(settings))
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


def _mount_domain_commands() -> None:
    for group, module in DOMAIN_COMMANDS.items():
        app.add_typer(importlib.import_module(module).app, name=group)
    for name, target in TOP_COMMANDS.items():
        module, func = target.split(":")
        app.command(name)(getattr(importlib.import_module(module), func))


def main() -> None:
    _mount_domain_commands()
    app()


if __name__ == "__main__":
    main()
