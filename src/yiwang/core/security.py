"""Passwords, tokens, the acting user (Actor), permissions and data-scope filters.

Roles grant permissions. Each domain declares, as data, the permissions it owns, the roles it
defines and its grants: a ``Declaration`` passed to ``declare`` in its ``roles.py`` (core never
imports a domain). ``matrix_markdown`` renders roles × permissions × scope for the README.
Every role also carries a data scope:

- ``all``        — the whole city (big-data bureau admin, city leader)
- ``department`` — records of the caller's department and its sub-departments
- ``region``     — records inside the caller's region subtree (town or grid)
- ``self``       — only the caller's own records (citizens, enterprises)

Service functions turn an Actor into a SQL filter with ``scope_filter`` so that the
permission check lives in the query, never only in a template or a route.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false, or_, true

from yiwang.core.crypto import sm3_hex
from yiwang.core.errors import AccessDenied
from yiwang.core.i18n import _

# Passwords -------------------------------------------------------------------

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


_dummy_hash: str | None = None


def burn_password_check(password: str) -> None:
    """Spend the time of a real check when the username is unknown (no user enumeration by timing)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("not-a-real-password")
    verify_password(_dummy_hash, password)


# Tokens ----------------------------------------------------------------------


def new_token(prefix: str = "yw") -> str:
    """A random bearer secret; only its digest is stored."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    return sm3_hex(token)


# Roles, permissions, scopes ---------------------------------------------------


class ScopeKind(enum.StrEnum):
    ALL = "all"
    DEPARTMENT = "department"
    REGION = "region"
    SELF = "self"


@dataclass(frozen=True)
class RoleInfo:
    key: str
    label: str  # English message id; translated for display
    scope: ScopeKind
    staff: bool = True


@dataclass(frozen=True)
class PermissionInfo:
    key: str
    label: str  # what the permission allows, in English (the README's matrix; not shown in the UI)
    domain: str  # the one domain that owns (declares) it


@dataclass(frozen=True)
class Declaration:
    """What one domain adds to the roles, as data (its ``roles.py`` fills one and passes it to ``declare``).

    ``permissions``: the permissions the domain owns, key → what it allows (English). A permission
    has exactly one owner; others grant it by key. ``roles``: roles the domain defines.
    ``grants``: role key → permissions granted to it (the domain's own or a lower domain's).
    """

    domain: str
    permissions: Mapping[str, str] = field(default_factory=dict)
    roles: tuple[RoleInfo, ...] = ()
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_ROLES: dict[str, RoleInfo] = {}
_GRANTS: dict[str, set[str]] = {}
_PERMISSIONS: dict[str, PermissionInfo] = {}
_ROLE_OWNER: dict[str, str] = {}
_DECLARED: dict[str, Declaration] = {}


def declare(decl: Declaration) -> Declaration:
    """The one hook by which a domain defines permissions, roles and grants; called once, at the import of the
    domain's ``roles.py`` (so services work outside the web app too). Declaring the same thing again changes
    nothing; a permission or role owned by another domain, a grant of an undeclared permission or to an
    unknown role raises ``ValueError`` (the import fails, before any request)."""
    if decl.domain in _DECLARED:
        if _DECLARED[decl.domain] == decl:
            return decl
        raise ValueError(f"domain {decl.domain!r} declared its roles twice, differently")
    twice = [k for k in decl.permissions if k in _PERMISSIONS]
    if twice:
        raise ValueError(
            f"{decl.domain}: permission(s) {twice} already declared by "
            f"{sorted({_PERMISSIONS[k].domain for k in twice})}"
        )
    roles_twice = [r.key for r in decl.roles if r.key in _ROLES]
    if roles_twice:
        raise ValueError(f"{decl.domain}: role(s) {roles_twice} already defined")
    known = set(_PERMISSIONS) | set(decl.permissions)
    for role, perms in decl.grants.items():
        if role not in _ROLES and role not in {r.key for r in decl.roles}:
            raise ValueError(f"{decl.domain}: grant to unknown role {role!r}")
        undeclared = [p for p in perms if p not in known]
        if undeclared:
            raise ValueError(f"{decl.domain}: grant of undeclared permission(s) {undeclared} to {role!r}")
    for key, label in decl.permissions.items():
        _PERMISSIONS[key] = PermissionInfo(key, label, decl.domain)
    for info in decl.roles:
        _ROLES[info.key] = info
        _ROLE_OWNER[info.key] = decl.domain
        _GRANTS.setdefault(info.key, set())
    for role, perms in decl.grants.items():
        _GRANTS[role].update(perms)
    _DECLARED[decl.domain] = decl
    return decl


def permissions() -> dict[str, PermissionInfo]:
    """Every declared permission, by key."""
    return dict(_PERMISSIONS)


def grants() -> dict[str, frozenset[str]]:
    """Role key → the permissions it holds (from every domain's declaration)."""
    return {role: frozenset(perms) for role, perms in _GRANTS.items()}


def roles() -> dict[str, RoleInfo]:
    return dict(_ROLES)


def role_label(key: str) -> str:
    info = _ROLES.get(key)
    return _(info.label) if info else key


def permissions_for(role_keys: Iterable[str]) -> frozenset[str]:
    perms: set[str] = set()
    for key in role_keys:
        perms |= _GRANTS.get(key, set())
    return frozenset(perms)


def scopes_for(role_keys: Iterable[str]) -> frozenset[ScopeKind]:
    return frozenset(_ROLES[k].scope for k in role_keys if k in _ROLES)


SCOPE_WORDS = {
    ScopeKind.ALL: "city",
    ScopeKind.DEPARTMENT: "department",
    ScopeKind.REGION: "region",
    ScopeKind.SELF: "own",
}


def matrix_markdown(domain_order: Iterable[str] = ()) -> str:
    """Roles × permissions × scope as Markdown, from the declarations (English; the README's table).

    One row per permission, grouped by the domain that owns it (domains in ``domain_order``, then by name);
    one column per role, in the order their domains define them. A cell names the data scope in which the
    role holds the permission (``city``, ``department``, ``region``, ``own``); empty: not held.
    """
    order = list(dict.fromkeys([*domain_order, *sorted(_DECLARED)]))
    role_keys = [r.key for d in order if d in _DECLARED for r in _DECLARED[d].roles]
    perms = sorted(_PERMISSIONS.values(), key=lambda p: (order.index(p.domain), p.key))
    lines = ["| role | label | scope |", "|---|---|---|"]
    lines += [f"| `{k}` | {_ROLES[k].label} | {SCOPE_WORDS[_ROLES[k].scope]} |" for k in role_keys]
    lines += [
        "",
        "| permission | allows | " + " | ".join(f"`{k}`" for k in role_keys) + " |",
        "|---|---|" + "---|" * len(role_keys),
    ]
    for p in perms:
        cells = [SCOPE_WORDS[_ROLES[k].scope] if p.key in _GRANTS[k] else "" for k in role_keys]
        lines.append(f"| `{p.key}` | {p.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# The acting user ------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    display_name: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    scopes: frozenset[ScopeKind] = frozenset()
    kind: str = "staff"  # staff | citizen | enterprise | system
    department_id: int | None = None
    department_name: str | None = None
    department_ids: frozenset[int] = frozenset()  # own department and its sub-departments
    region_code: str | None = None
    region_name: str | None = None
    auth_method: str = "session"  # session | token | system
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def can(self, permission: str) -> bool:
        return permission in self.permissions or "*" in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise AccessDenied(
                _("You do not have the permission for this action (%(perm)s).", perm=permission), permission=permission
            )

    @property
    def sees_everything(self) -> bool:
        return ScopeKind.ALL in self.scopes

    @property
    def role_labels(self) -> list[str]:
        return [role_label(r) for r in sorted(self.roles)]

    @property
    def scope_label(self) -> str:
        if self.sees_everything:
            return _("Whole city")
        parts = []
        if ScopeKind.DEPARTMENT in self.scopes and self.department_name:
            parts.append(self.department_name)
        if ScopeKind.REGION in self.scopes and self.region_name:
            parts.append(self.region_name)
        if ScopeKind.SELF in self.scopes:
            parts.append(_("Own records"))
        return " · ".join(parts) or _("None")


SYSTEM_ACTOR = Actor(
    user_id=None,
    username="system",
    display_name="system",
    kind="system",
    scopes=frozenset({ScopeKind.ALL}),
    permissions=frozenset({"*"}),
    auth_method="system",
)
"""The platform itself (CLI commands, background jobs): sees everything, may do anything."""


# Data scope ------------------------------------------------------------------


def scope_filter(
    actor: Actor,
    *,
    region_col: SQLColumnExpression[Any] | None = None,
    department_col: SQLColumnExpression[Any] | None = None,
    owner_col: SQLColumnExpression[Any] | None = None,
) -> ColumnElement[bool]:
    """SQL condition limiting rows to the actor's data scope.

    Pass the columns a record type has; a scope the record cannot be judged by
    grants nothing (fails closed).
    """
    if actor.sees_everything:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if ScopeKind.DEPARTMENT in actor.scopes and department_col is not None and actor.department_ids:
        clauses.append(department_col.in_(sorted(actor.department_ids)))
    if ScopeKind.REGION in actor.scopes and region_col is not None and actor.region_code:
        clauses.append(prefix_range(region_col, actor.region_code))
    if ScopeKind.SELF in actor.scopes and owner_col is not None and actor.user_id is not None:
        clauses.append(owner_col == actor.user_id)
    if not clauses:
        return false()
    return or_(*clauses) if len(clauses) > 1 else and_(clauses[0])


_MAX_CHAR = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (None: there is none).

    The last character is incremented (``"3205"`` → ``"3206"``); a last character that cannot be
    incremented (U+10FFFF) is dropped and the one before it incremented instead. Surrogates are skipped
    (they cannot be stored), which keeps the bound right in code-point order and in UTF-8 byte order.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < _MAX_CHAR:
            nxt = last + 1
            if nxt in _SURROGATES:
                nxt = _SURROGATES.stop
            return "".join(chars) + chr(nxt)
    return None


def digit_upper_bound(prefix: str) -> str | None:
    """``prefix_upper_bound`` for codes of ASCII digits, in digits: ``"32059"`` → ``"3206"`` (not ``"3205:"``).

    A bound of digits orders the same in every collation; punctuation such as ``":"`` does not (glibc's
    language collations ignore it at the first level, which would empty the range on a PostgreSQL
    database created with, say, ``en_US.UTF-8``). Right for columns that hold digit codes only.
    """
    head = prefix.rstrip("9")
    return head[:-1] + str(int(head[-1]) + 1) if head else None


def prefix_range(col: SQLColumnExpression[Any], prefix: str) -> ColumnElement[bool]:
    """``col`` starts with ``prefix``, as a range ``col >= prefix AND col < next`` that a B-tree index serves.

    ``LIKE 'prefix%'`` cannot use an ordinary index on PostgreSQL (unless the collation is C or the index
    uses ``text_pattern_ops``), nor on SQLite (whose LIKE ignores ASCII case). The range compares in the
    column's collation: for codes of digits (division codes) every collation orders them like code points.
    Unlike SQLite's LIKE it is case-sensitive, as ``str.startswith`` (``in_scope``) and PostgreSQL are.
    """
    upper = digit_upper_bound(prefix) if prefix.isascii() and prefix.isdigit() else prefix_upper_bound(prefix)
    lower = col >= prefix
    return lower if upper is None else and_(lower, col < upper)


def in_scope(
    actor: Actor,
    *,
    region_code: str | None = None,
    department_id: int | None = None,
    owner_id: int | None = None,
) -> bool:
    """The same rule as ``scope_filter`` for one record already in memory."""
    if actor.sees_everything:
        return True
    if ScopeKind.DEPARTMENT in actor.scopes and department_id is not None and department_id in actor.department_ids:
        return True
    if (
        ScopeKind.REGION in actor.scopes
        and region_code
        and actor.region_code
        and region_code.startswith(actor.region_code)
    ):
        return True
    return bool(ScopeKind.SELF in actor.scopes and owner_id is not None and owner_id == actor.user_id)


def region_in_scope(actor: Actor, region_code: str) -> bool:
    """May the actor act on things located in ``region_code``? (region-only records)."""
    return in_scope(actor, region_code=region_code)
