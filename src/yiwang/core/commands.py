"""Helpers shared by the command-line groups of every domain.

Importing this module is cheap (Typer and Rich only): ``yiwang --help`` loads it, and every
heavier import (settings, SQLAlchemy, the domains) happens inside the helpers, when a command runs.

* ``settings_or_exit()``, ``session_factory()``: the installation's settings and sessions.
* ``platform(wire=None)``: both, plus logging as the web configures it; ``wire(settings, factory)``
  lets a command connect the domains it needs (``yiwang.app.create_app`` for all of them).
* ``UserOption`` and ``actor_named()``: the ``--user`` option every command that runs on someone's
  behalf takes, and the account it names (the platform when omitted).
* ``console`` / ``err`` (soft-wrapped): Rich consoles on stderr; stdout is left to ``--json`` output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from yiwang.core.config import Settings
    from yiwang.core.security import Actor

console = Console(stderr=True)
err = Console(stderr=True, soft_wrap=True)

UserOption = Annotated[str | None, typer.Option("--user", help="Run as this account (default: the platform).")]
"""``user: UserOption = None`` — the account a command runs as; resolve it with ``actor_named``."""


def settings_or_exit() -> Settings:
    """The settings, or a clear message and exit code 2 when they cannot be used."""
    from yiwang.core.config import ConfigError, get_settings

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
        console.print(
            f"[red]No database at {url.removeprefix('sqlite:///')}[/red]: run `yiwang up` or "
            "`yiwang db upgrade` first, or point YIWANG_HOME / YIWANG_DATABASE_URL at your installation."
        )
        raise typer.Exit(2)
    crypto.configure_column_key(settings.data_key_bytes)
    return make_sessionmaker(make_engine(url))


def platform(
    wire: Callable[[Settings, sessionmaker[Session]], Any] | None = None,
) -> tuple[Settings, sessionmaker[Session]]:
    """Settings and sessions of the installation, logging configured as in the web; then
    ``wire(settings, factory)`` (e.g. ``create_app``, which registers every domain's bus subscribers)."""
    from yiwang.core.logs import configure_logging

    settings = settings_or_exit()
    factory = session_factory(settings)
    configure_logging(settings.log_level, settings.log_format)
    if wire is not None:
        wire(settings, factory)
    return settings, factory


def actor_named(session: Session, username: str | None, lookup: Callable[[Session, str], Actor | None]) -> Actor:
    """The actor of ``--user USERNAME`` (``lookup`` is ``org.actor_for_username``); the platform when
    omitted; exit code 2 when there is no such active account."""
    from rich.markup import escape

    from yiwang.core.security import SYSTEM_ACTOR

    if not username:
        return SYSTEM_ACTOR
    actor = lookup(session, username)
    if actor is None:
        err.print(f"[red]no active account {escape(username)!r}[/red]")
        raise typer.Exit(2)
    return actor
