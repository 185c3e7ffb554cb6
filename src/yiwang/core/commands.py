"""Helpers shared by the command-line groups of every domain."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from yiwang.core.config import ConfigError, Settings, get_settings

console = Console(stderr=True)


def settings_or_exit() -> Settings:
    """The settings, or a clear message and exit code 2 when they cannot be used."""
    try:
        return get_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def session_factory(settings: Settings | None = None) -> sessionmaker[Session]:
    from yiwang.core import crypto
    from yiwang.core.db import make_engine, make_sessionmaker

    settings = settings or settings_or_exit()
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        console.print(f"[red]No database at {url.removeprefix('sqlite:///')}[/red]: run `yiwang up` or "
                      "`yiwang db upgrade` first, or point YIWANG_HOME / YIWANG_DATABASE_URL at your installation.")
        raise typer.Exit(2)
    crypto.configure_column_key(settings.data_key_bytes)
    return make_sessionmaker(make_engine(url))
