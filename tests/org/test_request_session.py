"""A request's database session ends before its response is sent.

On SQLite a transaction begun by a read after the route's last commit holds the writer lock (write
requests begin ``IMMEDIATE``); if the session closed only after the response went out, a slow
client would keep every other writer waiting.
"""

from __future__ import annotations

import asyncio
import threading

from fastapi import FastAPI
from sqlalchemy import text

from helpers import run_async, timed_write
from yiwang.core import sqlite_tx
from yiwang.core.db import make_engine, make_sessionmaker
from yiwang.org import DbSession


def _app(factory) -> FastAPI:
    app = FastAPI()
    app.state.sessionmaker = factory

    @app.post("/w")
    def write_then_read(session: DbSession):
        session.execute(text("INSERT INTO t (v) VALUES ('route')"))
        session.commit()
        rows = session.execute(text("SELECT count(*) FROM t")).scalar_one()  # a new transaction, after the commit
        return {"rows": rows}

    return app


def _scope() -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/w",
        "raw_path": b"/w",
        "query_string": b"",
        "headers": [],
        "root_path": "",
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }


def test_a_slow_client_does_not_keep_other_writers_waiting(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_tx, "BUSY_SECONDS", 3.0)
    engine = make_engine(f"sqlite:///{tmp_path / 'slow.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    factory = make_sessionmaker(engine)
    app = _app(factory)
    outcome: dict = {}

    def other_writer() -> None:
        outcome.update(timed_write(factory, "INSERT INTO t (v) VALUES ('other')"))

    async def run() -> list[dict]:
        sent: list[dict] = []
        release, response_started = asyncio.Event(), asyncio.Event()

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.start":
                response_started.set()
                await release.wait()  # the client reads nothing for now

        task = asyncio.create_task(app(_scope(), receive, send))
        await asyncio.wait_for(response_started.wait(), 10)
        writer = threading.Thread(target=other_writer)
        writer.start()
        await asyncio.to_thread(writer.join, 10)
        release.set()
        await asyncio.wait_for(task, 10)
        return sent

    sent = run_async(run())  # a thread of its own: a browser test may leave a loop running in this one
    assert sent[0]["status"] == 200
    assert outcome["error"] is None, outcome
    assert outcome["seconds"] < 1.5, outcome
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2
    engine.dispose()
