"""No route does database work on the event loop.

FastAPI runs a plain ``def`` route in its thread pool but an ``async def`` route on the loop; a
session used there stalls every request while it waits (on SQLite, for the writer lock, up to
30 s). A route that needs ``await`` for a form uses ``core.web.PostedForm`` and stays a ``def``.
The few that stream a large body must hand the session to the thread pool, and are listed here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

from fastapi.routing import APIRoute

from yiwang.catalog import api as catalog_api
from yiwang.governance import api as governance_api
from yiwang.org import get_db

# async routes that stream a request body, then call their service with run_in_threadpool
STREAMING = {catalog_api.apply, governance_api.upload, governance_api.import_fixes}


def _api_routes(routes) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None) or route  # included routers (FastAPI ≥ 0.16x)
        if inner is not route or hasattr(route, "routes"):
            yield from _api_routes(getattr(inner, "routes", ()))


def test_async_routes_take_no_database_session(app):
    routes = list(_api_routes(app.routes))
    assert len(routes) > 100, "the walk found too few routes to mean anything"
    asynchronous = [r for r in routes if inspect.iscoroutinefunction(r.endpoint)]
    offenders = [
        f"{sorted(r.methods)} {r.path} ({r.endpoint.__module__}.{r.endpoint.__name__})"
        for r in asynchronous
        if r.endpoint not in STREAMING and any(d.call is get_db for d in r.dependant.dependencies)
    ]
    assert not offenders, "async routes using the request session on the event loop: " + ", ".join(offenders)
    assert {r.endpoint for r in asynchronous} >= STREAMING, "a listed streaming route is gone or no longer async"
