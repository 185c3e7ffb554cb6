"""Least privilege you can read: every route declares its permission, the README shows every grant.

The rule (ARCHITECTURE.md §5): a route declares the permission it needs with ``org.requires(...)`` /
``org.requires_step(...)`` (or is listed here as public); services limit rows to the caller's data scope;
nothing branches on role names. Each domain declares its permissions, roles and grants as data
(``core.security.Declaration`` in its ``roles.py``); README.md's matrix is generated from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

import yiwang
from yiwang import app as app_module
from yiwang.core import security
from yiwang.core.security import Declaration, RoleInfo, ScopeKind

ROOT = Path(__file__).resolve().parents[1]

# Routes anyone may call, signed in or not (method, path). Say why when adding one.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/metrics"),  # operations (the proxy keeps /metrics internal)
    ("POST", "/api/v1/auth/token"),  # sign-in (OAuth2 password flow)
    ("GET", "/api/v1/org/geo/outline"),  # the city's outline for the public maps
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/lang/{code}"),
    ("GET", "/portal"),
    # the citizens' portal: report, and follow a report with its number and phone
    ("GET", "/portal/events/report"),
    ("POST", "/portal/events/report"),
    ("GET", "/portal/events/status"),
    ("POST", "/portal/events/status"),
    # Open311 GeoReport v2: public reads; a POST carries the partner's api_key (checked by open311 / events.lean)
    ("GET", "/open311/v2/services.json"),
    ("GET", "/open311/v2/services/{code}.json"),
    ("POST", "/open311/v2/requests.json"),
    ("GET", "/open311/v2/requests.json"),
    ("GET", "/open311/v2/requests/{number}.json"),
    ("GET", "/open311/v2/tokens/{token}.json"),
    ("GET", "/open311/v2/media/{public_id}"),  # only photos staff marked publishable
    # machine intake: X-API-Key, checked by events.lean.validate_machine (the lean front serves it first)
    ("POST", "/api/v1/events/intake"),
}
# Optional routes a setting switches on (benchmarks); public when present.
OPTIONAL_PUBLIC_PREFIXES = ("/bench/",)
# Mounts and non-API routes: static files and the OpenAPI document.
PUBLIC_OTHER = {
    "/static",
    "/assets/catalog",
    "/assets/lake",
    "/assets/governance",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
}


def _walk(routes) -> Iterator:
    for route in routes:
        inner = getattr(route, "original_router", None)  # included routers (FastAPI ≥ 0.16x)
        if inner is not None:
            yield from _walk(inner.routes)
        else:
            yield route


def _declared(dependant) -> set[str] | None:
    """The permissions declared by the route's dependencies (``()`` for 'any signed-in user'); None: none declared."""
    found: set[str] | None = None
    for dep in dependant.dependencies:
        perms = getattr(dep.call, "permissions", None)
        if perms is not None:
            found = (found or set()) | set(perms)
        inner = _declared(dep)
        if inner is not None:
            found = (found or set()) | inner
    return found


def test_every_route_declares_its_permission(app):
    routes = list(_walk(app.routes))
    api = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api) > 100, "the walk found too few routes to mean anything"
    known = set(security.permissions())
    undeclared, unknown, seen_public = [], [], set()
    for r in api:
        for method in sorted(r.methods):
            key = (method, r.path)
            perms = _declared(r.dependant)
            if key in PUBLIC or r.path.startswith(OPTIONAL_PUBLIC_PREFIXES):
                seen_public.add(key)
                continue
            if perms is None:
                undeclared.append(f"{method} {r.path} ({r.endpoint.__module__}.{r.endpoint.__name__})")
            unknown += [f"{method} {r.path}: {p}" for p in (perms or ()) if p not in known]
    assert not undeclared, (
        "routes without a declared permission (use org.requires(...), or list them in PUBLIC):\n"
        + "\n".join(undeclared)
    )
    assert not unknown, "routes declaring a permission no domain declares:\n" + "\n".join(unknown)
    assert seen_public >= PUBLIC, f"PUBLIC lists routes that no longer exist: {sorted(PUBLIC - seen_public)}"
    others = {getattr(r, "path", "") for r in routes if not isinstance(r, APIRoute)}
    assert others <= PUBLIC_OTHER, f"unlisted mounts or raw routes: {sorted(others - PUBLIC_OTHER)}"


def test_a_route_refuses_before_the_service_runs(client, bearer):
    """The declaration is the check: a citizen is refused by the route of the dispatcher's bulk dispatch."""
    r = client.post("/api/v1/events/bulk-dispatch", json={"ids": [1]}, headers=bearer("citizen"))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = client.post("/api/v1/events/cases/1/dispatch", json={}, headers=bearer("handler"))
    assert r.status_code == 403 and "events.dispatch" in r.json()["detail"]


def test_readme_matrix_is_generated_from_the_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert app_module.MATRIX_START in readme and app_module.MATRIX_END in readme
    assert app_module.with_roles_matrix(readme) == readme, (
        "README.md's roles matrix differs from the roles the code declares: run scripts/roles-matrix.sh "
        "and review the change"
    )


def test_the_matrix_shows_a_grant_the_moment_it_exists():
    before = app_module.roles_matrix()
    security._GRANTS["dispatcher"].add("org.personal.read")
    try:
        assert app_module.roles_matrix() != before
    finally:
        security._GRANTS["dispatcher"].discard("org.personal.read")
    assert app_module.roles_matrix() == before


def test_every_grant_is_of_a_declared_permission_and_each_has_one_owner():
    app_module.roles_matrix()  # every domain imported
    declared = security.permissions()
    for role, perms in security.grants().items():
        assert perms <= set(declared), (role, sorted(perms - set(declared)))
    # the cockpit owns cockpit.view; org no longer repeats it
    assert declared["cockpit.view"].domain == "cockpit"
    with pytest.raises(ValueError, match="already declared"):
        security.declare(Declaration(domain="intruder", permissions={"cockpit.view": "again"}))
    with pytest.raises(ValueError, match="undeclared permission"):
        security.declare(Declaration(domain="intruder", grants={"leader": ("no.such.permission",)}))
    with pytest.raises(ValueError, match="unknown role"):
        security.declare(Declaration(domain="intruder", grants={"no_such_role": ("cockpit.view",)}))
    with pytest.raises(ValueError, match="already defined"):
        security.declare(Declaration(domain="intruder", roles=(RoleInfo("leader", "x", ScopeKind.ALL),)))
    assert "intruder" not in security._DECLARED and "no_such_role" not in security.roles()
    from yiwang.events import roles as event_roles

    assert security.declare(event_roles.DECLARATION) is event_roles.DECLARATION  # idempotent


def test_personal_data_is_granted_per_kind_of_record():
    app_module.roles_matrix()
    grants = security.grants()
    assert "personal.read" not in security.permissions()  # no single switch any more
    holders = {
        p: {r for r, perms in grants.items() if p in perms}
        for p in ("org.personal.read", "events.reporter.read", "lake.personal.read")
    }
    assert "dispatcher" in holders["events.reporter.read"] and "dispatcher" not in holders["org.personal.read"]
    assert "dispatcher" not in holders["lake.personal.read"]
    assert holders["lake.personal.read"] == {"admin", "data_officer"}


ROLE_BRANCH = re.compile(r"""["'][a-z_]+["']\s+(?:not\s+)?in\s+[\w.]*\broles\b|\.roles\s*(?:==|!=)""")


def test_nothing_branches_on_role_names():
    """Code decides with permissions (``actor.can``), never with ``"grid_worker" in actor.roles``."""
    src = Path(yiwang.__file__).parent
    offenders = []
    for path in sorted([*src.rglob("*.py"), *src.rglob("*.html")]):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if ROLE_BRANCH.search(line):
                offenders.append(f"{path.relative_to(src)}:{n}: {line.strip()}")
    assert not offenders, "branches on role names:\n" + "\n".join(offenders)
