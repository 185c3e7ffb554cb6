"""Operations endpoints and the precise answers to bad requests."""

import asyncio
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from yiwang.app import create_app
from yiwang.core import web
from yiwang.core.db import make_engine


def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "lake": "ok"}


def test_healthz_503_when_lake_folder_unusable(settings, db_factory, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the lake folder should be")
    broken = settings.model_copy(update={"lake_uri": str(blocker / "lake")})
    from fastapi.testclient import TestClient

    with TestClient(create_app(broken, session_factory=db_factory)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "ok"
    assert "not writable" in r.json()["checks"]["lake"]


def test_healthz_503_when_database_unreachable(settings, tmp_path):
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, session_factory=sessionmaker(bind=engine))) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["checks"]["database"] != "ok"
    engine.dispose()


def test_metrics_prometheus_text(client):
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'yiwang_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/auth/token" in spec["paths"] and "/api/v1/me" in spec["paths"]


def test_unknown_route_json_and_page(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    page = client.get("/nothing-here", headers={"accept": "text/html"})
    assert page.status_code == 404 and "页面或资源不存在" in page.text


def test_malformed_json_body_is_422_with_message(client, bearer):
    headers = {**bearer("admin"), "content-type": "application/json"}
    r = client.post("/api/v1/org/users", content=b'{"username": "x",', headers=headers)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid" and "JSON" in body["message"]


def test_oversized_body_is_413(settings, db_factory):
    from fastapi.testclient import TestClient

    small = settings.model_copy(update={"max_body_mb": 1})
    with TestClient(create_app(small, session_factory=db_factory)) as c:
        r = c.post(
            "/api/v1/auth/token",
            content=b"x" * (1024 * 1024 + 10),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


def test_language_switch(client):
    assert "政务端" in client.get("/login").text or "公众端" in client.get("/login").text
    r = client.get("/lang/en?next=/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    english = client.get("/login").text
    assert "Sign in to yiwang" in english and "登录一网" not in english
    client.get("/lang/zh_CN")
    assert "登录一网" in client.get("/login").text


def test_open_redirect_refused(client):
    r = client.get("/lang/en?next=//evil.example.com", follow_redirects=False)
    assert r.headers["location"] == "/"


def test_static_assets_are_local(client):
    page = client.get("/login").text
    assert "http://" not in page.replace("http://testserver", "") and "https://" not in page
    for asset in ("/static/vendor/htmx/htmx.min.js", "/static/vendor/echarts/echarts.min.js", "/static/css/yiwang.css"):
        assert client.get(asset).status_code == 200


def test_run_with_app_starts_first_and_stops_last_even_when_an_earlier_lifespan_fails():
    events: list[str] = []

    @asynccontextmanager
    async def failing(app):
        events.append("inner start")
        yield
        raise RuntimeError("inner stop failed")

    def starter(name, stops=True):
        def start(app):
            events.append(f"{name} start")
            return (lambda: events.append(f"{name} stop")) if stops else None

        return start

    app = FastAPI(lifespan=failing)
    web.run_with_app(app, starter("middle"))
    web.run_with_app(app, starter("quiet", stops=False))
    web.run_with_app(app, starter("outer"))

    async def serve():
        async with app.router.lifespan_context(app):
            events.append("serving")

    failures: list[BaseException] = []

    def in_own_loop():  # a thread of its own: another test may have left an event loop running here
        try:
            asyncio.run(serve())
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=in_own_loop)
    thread.start()
    thread.join()
    assert len(failures) == 1 and str(failures[0]) == "inner stop failed"
    assert events == [
        "outer start",
        "quiet start",
        "middle start",
        "inner start",
        "serving",
        "middle stop",
        "outer stop",
    ]
