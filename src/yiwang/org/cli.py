"""``yiwang org ...``: accounts from the command line (e.g. the first admin in production)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from yiwang.core.audit import Origin
from yiwang.core.commands import session_factory
from yiwang.core.errors import YiwangError
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.org import queries, service
from yiwang.org.schemas import UserCreate

app = typer.Typer(no_args_is_help=True, help="Organisation: users and roles.")
console = Console(stderr=True)


def _factory():
    return session_factory()


@app.command("user-create")
def user_create(
    username: str,
    display_name: str = typer.Option(..., "--name", help="Display name, e.g. 陈志远."),
    role: list[str] = typer.Option(..., "--role", help="Role key (repeatable): admin, auditor, data_officer, ..."),
    department: str = typer.Option(None, help="Department key, e.g. bigdata."),
    region: str = typer.Option(None, help="Region code, e.g. 320583100."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Password (prompted when omitted)."
    ),
) -> None:
    """Create an account as the system (audited)."""
    try:
        data = UserCreate(
            username=username,
            display_name=display_name,
            password=password,
            roles=role,
            department_key=department,
            region_code=region,
        )
        with _factory()() as session:
            user = service.create_user(session, actor=SYSTEM_ACTOR, data=data, origin=Origin(ip="cli"))
    except (YiwangError, ValueError) as exc:
        console.print(f"[red]cannot create {username}:[/red] {getattr(exc, 'message', exc)}")
        raise typer.Exit(2) from None
    console.print(f"created user #{user.id} {user.username} with roles {', '.join(user.role_keys)}")


@app.command("users")
def users(role: str = typer.Option(None, help="Only this role.")) -> None:
    """List accounts (personal data masked)."""
    with _factory()() as session:
        rows, total = queries.list_users(session, actor=SYSTEM_ACTOR, role=role, limit=500)
        table = Table("id", "username", "name", "roles", "department", "region")
        for u in rows:
            table.add_row(
                str(u.id),
                u.username,
                u.display_name,
                " ".join(u.role_keys),
                u.department.short_name if u.department else "",
                u.region_code or "",
            )
    Console().print(table)
    console.print(f"{total} users")
