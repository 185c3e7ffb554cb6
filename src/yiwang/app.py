"""create_app(): builds the FastAPI application and lets each domain register itself.

Domains are registered bottom-up in the order of ARCHITECTURE.md's layers.
"""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from yiwang import __version__
from yiwang.core import crypto, heap, security, web
from yiwang.core.audit import anchor_in_background
from yiwang.core.config import Settings, get_settings
from yiwang.core.db import make_engine, make_sessionmaker, sqlite_file
from yiwang.core.logs import configure_logging
from yiwang.core.wal import Checkpointer

DOMAINS = ("org", "catalog", "lake", "governance", "events", "cockpit")  # registration order: lowest layer first


def load_models() -> None:
    """Import every table definition (for migrations and metadata checks)."""
    import yiwang.core.audit  # noqa: F401

    for name in DOMAINS:
        try:
            importlib.import_module(f"yiwang.{name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"yiwang.{name}.models":
                raise


MATRIX_START, MATRIX_END = "<!-- roles-matrix:start -->", "<!-- roles-matrix:end -->"


def roles_matrix() -> str:
    """Roles × permissions × scope of every domain, as Markdown: each domain's ``roles.py`` declares its part
    when the domain is imported. README.md shows it between ``MATRIX_START`` and ``MATRIX_END``
    (``scripts/roles-matrix.sh`` rewrites it; ``tests/test_permissions.py`` fails when they differ)."""
    for name in DOMAINS:
        importlib.import_module(f"yiwang.{name}")
    return security.matrix_markdown(DOMAINS)


def with_roles_matrix(readme: str) -> str:
    """``readme`` with the text between the matrix markers replaced by the current ``roles_matrix()``."""
    start, end = readme.index(MATRIX_START) + len(MATRIX_START), readme.index(MATRIX_END)
    return f"{readme[:start]}\n\n{roles_matrix()}\n{readme[end:]}"


def create_app(settings: Settings | None = None, *, session_factory: sessionmaker[Session] | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    crypto.configure_column_key(settings.data_key_bytes)
    engine = None
    if session_factory is None:
        engine = make_engine(settings.db_url)
        session_factory = make_sessionmaker(engine)

    app = FastAPI(
        title="yiwang 一网",
        version=__version__,
        description="Open-source digital government platform (reference city: Kunshan). "
        "Authenticate with `POST /api/v1/auth/token` (OAuth2 password flow) or a named token.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessionmaker = session_factory
    app.state.engine = engine
    web.install_middleware(app)
    web.install_error_handlers(app)
    static_dir = Path(str(resources.files("yiwang") / "core" / "static"))
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    _register_ops(app)
    _checkpoint_in_background(app)
    anchor_in_background(app)  # signed ledger heads exported outside the database (core.audit)

    for name in DOMAINS:
        importlib.import_module(f"yiwang.{name}").register(app)
    return app


def _checkpoint_in_background(app: FastAPI) -> None:
    """SQLite: copy the write-ahead log back in a thread of its own, not inside writers' commits."""
    path = sqlite_file(app.state.engine) if app.state.engine is not None else None
    if path is not None:
        web.run_with_app(app, lambda a: Checkpointer(path).start().close)


def _register_ops(app: FastAPI) -> None:
    @app.get("/healthz", tags=["ops"], summary="200 when the database and the lake folder are usable, else 503")
    def healthz(request: Request):
        settings: Settings = request.app.state.settings
        problems = {}
        try:
            with request.app.state.sessionmaker() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            problems["database"] = f"{type(exc).__name__}: {exc}"[:300]
        lake = settings.lake_location
        if not lake.startswith("s3://"):
            path = Path(lake)
            try:
                path.mkdir(parents=True, exist_ok=True)
                probe = path / ".healthz"
                probe.write_text("ok")
                probe.unlink()
            except OSError as exc:
                problems["lake"] = f"lake folder {path} is not writable: {exc.strerror or exc}"
        body = {
            "status": "ok" if not problems else "unavailable",
            "version": __version__,
            "checks": {"database": problems.get("database", "ok"), "lake": problems.get("lake", "ok")},
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics():
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers (``yiwang.app:app_from_env``): a serving process, so its heap is frozen
    once started (``core.heap``)."""
    heap.enable()
    app = create_app()
    _freeze_after_startup(app)
    return app


def _freeze_after_startup(app: FastAPI) -> None:
    """Outermost lifespan: once every domain has started, freeze what start-up made (``core.heap``)."""
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a):
        async with previous(a) as state:
            heap.freeze()
            yield state

    app.router.lifespan_context = lifespan


__all__ = ["app_from_env", "create_app", "load_models", "roles_matrix", "with_roles_matrix"]
