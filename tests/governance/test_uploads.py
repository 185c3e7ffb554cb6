"""Uploads: streamed to disk, size-capped, queued, run by the real worker thread with progress."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from lake_helpers import people, volunteers_csv

from helpers import csrf_from, login
from yiwang import lake
from yiwang.governance import jobs


def _wait(client, load_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.get(f"/api/v1/governance/loads/{load_id}").json()
        if body["status"] in ("committed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"load {load_id} did not finish: {body}")


def test_upload_is_queued_and_run_by_the_worker(lake_app, lake_install, lake_factory, tmp_path):
    path = volunteers_csv(tmp_path / "志愿者.csv", people(40, start=5000))
    worker = jobs.Worker(lake_factory, lake_install)
    worker.start()
    try:
        with TestClient(lake_app) as c:
            login(c, "officer", lake_install.demo_password)
            token = csrf_from(c.get("/workspace/governance").text)
            r = c.post(
                "/api/v1/governance/resources/volunteers/loads?filename=志愿者.csv&mode=append",
                content=path.read_bytes(),
                headers={"X-CSRF-Token": token, "Content-Type": "application/octet-stream"},
            )
            assert r.status_code == 202, r.text
            queued = r.json()
            assert queued["status"] == "queued" and queued["source_name"] == "志愿者.csv" and queued["source_sm3"]
            done = _wait(c, queued["id"])
            assert done["status"] == "committed" and done["rows_accepted"] == 40 and done["actor"] == "officer"
            page = c.get(f"/workspace/governance/loads/{queued['id']}/progress")
            assert 'data-status="committed"' in page.text
    finally:
        worker.close()
    assert not list((lake_install.home_path / "uploads").glob("*.csv"))  # the upload is removed after the load


def test_upload_limits_and_refusals(lake_install, lake_factory, tmp_path, monkeypatch):
    from yiwang.app import create_app
    from yiwang.governance.settings import get_governance_settings

    monkeypatch.setenv("YIWANG_GOVERNANCE_MAX_FILE_MB", "1")
    get_governance_settings.cache_clear()
    small = lake_install.model_copy(update={"max_body_mb": 1024})  # the upload route has its own, smaller limit
    app = create_app(small, session_factory=lake_factory)
    with TestClient(app) as c:
        login(c, "officer", lake_install.demo_password)
        token = csrf_from(c.get("/workspace/governance").text)
        headers = {"X-CSRF-Token": token, "Content-Type": "application/octet-stream"}
        url = "/api/v1/governance/resources/volunteers/loads?filename=big.csv"
        declared = c.post(url, content=b"x", headers={**headers, "Content-Length": str(2 << 30)})
        assert declared.status_code == 413
        chunks = (b"a" * (256 << 10) for _ in range(12))  # 3 MB streamed without a length
        streamed = c.post(url, content=chunks, headers=headers)
        assert streamed.status_code == 413 and "1 MB" in streamed.json()["detail"]
        assert not list((small.home_path / "uploads").glob("*"))
        bad_name = c.post("/api/v1/governance/resources/volunteers/loads?filename=x.exe", content=b"a", headers=headers)
        assert bad_name.status_code == 422 and bad_name.json()["code"] == "unsupported_format"
        other = c.post("/api/v1/governance/resources/enterprise/loads?filename=e.csv", content=b"a", headers=headers)
        assert other.status_code == 403  # 市场监管局's resource: not the officer's department
        no_csrf = c.post(url.replace("big", "v"), content=b"a", headers={"Content-Type": "application/octet-stream"})
        assert no_csrf.status_code == 403
    get_governance_settings.cache_clear()


def test_upload_route_accepts_more_than_ordinary_requests(lake_install, lake_factory, monkeypatch):
    """Department files are larger than YIWANG_MAX_BODY_MB; the upload route has its own limit."""
    from yiwang.app import create_app
    from yiwang.governance.settings import get_governance_settings

    monkeypatch.setenv("YIWANG_GOVERNANCE_MAX_FILE_MB", "8")
    get_governance_settings.cache_clear()
    app = create_app(lake_install.model_copy(update={"max_body_mb": 1}), session_factory=lake_factory)
    body = "姓名,公民身份号码,联系电话,服务时长\n".encode() + b"x" * (2 << 20)  # 2 MB: over 1, under 8
    with TestClient(app) as c:
        login(c, "officer", lake_install.demo_password)
        headers = {
            "X-CSRF-Token": csrf_from(c.get("/workspace/governance").text),
            "Content-Type": "application/octet-stream",
        }
        r = c.post("/api/v1/governance/resources/volunteers/loads?filename=v.csv", content=body, headers=headers)
        assert r.status_code == 202, r.text  # accepted and queued (the load itself may fail on the junk rows)
        assert (
            c.post("/api/v1/me/tokens", json={"name": "x" * 10, "pad": "y" * (2 << 20)}, headers=headers).status_code
            == 413
        )  # ordinary routes keep the small limit
    get_governance_settings.cache_clear()


def test_sql_pull_from_a_database_url(lake_install, lake_factory, tmp_path, signed_in):
    import sqlite3

    db = tmp_path / "dept.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE v (姓名 TEXT, 公民身份号码 TEXT, 联系电话 TEXT, 服务时长 TEXT)")
        conn.executemany("INSERT INTO v VALUES (?,?,?,?)", [tuple(map(str, r)) for r in people(7, start=6000)])
    c = signed_in("admin")
    token = csrf_from(c.get("/workspace/governance").text)
    r = c.post(
        "/api/v1/governance/resources/volunteers/pulls",
        json={"url": f"sqlite:///{db}", "table": "v"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    assert r.json()["rows_accepted"] == 7 and r.json()["source_name"].startswith("sqlite:///")
    assert lake.lake_for(lake_install).exists("raw.volunteers")
