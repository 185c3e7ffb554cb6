"""Staff SQL over the lake: read-only, scoped, audited, precise refusals; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from helpers import csrf_from, env_for
from yiwang.core.audit import AuditEntry


def _sql(c, body):
    token = csrf_from(c.get("/workspace/lake/sql").text)
    return c.post("/api/v1/lake/sql", json=body, headers={"X-CSRF-Token": token})


def test_sql_over_share_and_refusals(lake_install, lake_factory, signed_in):
    c = signed_in("officer")
    r = _sql(c, {"sql": "SELECT 性别, count(*) AS n FROM share.population GROUP BY 性别 ORDER BY 性别"})
    assert r.status_code == 200, r.text
    assert r.json()["columns"] == ["性别", "n"] and sum(row[1] for row in r.json()["rows"]) > 0
    joined = _sql(
        c, {"sql": "SELECT count(*) FROM share.population p JOIN share.enterprise e ON p.姓名 = e.法定代表人"}
    )
    assert joined.status_code == 200  # enterprise is shared unconditionally
    assert _sql(c, {"sql": "SELECT * FROM raw.population LIMIT 1"}).json()["code"] == "reason_required"
    assert _sql(c, {"sql": "SELECT * FROM raw.population LIMIT 1", "reason": "核对原始数据"}).status_code == 200
    assert _sql(c, {"sql": "SELECT * FROM raw.enterprise", "reason": "核对原始数据"}).status_code == 403
    refused = _sql(c, {"sql": "DELETE FROM share.population"})
    assert refused.status_code == 422 and "only SELECT" in refused.json()["detail"]
    typo = _sql(c, {"sql": "SELECT *\nFORM share.population"})
    assert typo.status_code == 422 and typo.json()["line"] == 2 and typo.json()["column"] >= 1
    assert _sql(c, {"sql": "SELECT * FROM share.nothing_here"}).json()["code"] == "unknown_table"
    assert _sql(c, {"sql": "SELECT * FROM read_csv('/etc/passwd')"}).status_code == 422
    assert _sql(c, {"sql": "x" * 20_001}).status_code == 422
    with lake_factory() as session:
        entries = session.execute(select(AuditEntry).where(AuditEntry.action == "lake.sql")).scalars().all()
        assert any("GROUP BY 性别" in e.detail for e in entries)
    events = c.get("/api/v1/lineage/events?limit=50").json()["events"]
    assert any(e["job"]["name"] == "lake.sql.officer" and e["inputs"][0]["name"] == "share.population" for e in events)
    town = signed_in("town")
    assert (
        town.post(
            "/api/v1/lake/sql",
            json={"sql": "SELECT 1"},
            headers={"X-CSRF-Token": csrf_from(town.get("/workspace").text)},
        ).status_code
        == 403
    )


def test_cli_lake_sql_json(lake_install):
    def run(*a):
        return subprocess.run(
            [sys.executable, "-m", "yiwang.cli", "lake", "sql", *a],
            env=env_for(lake_install),
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = run("SELECT count(*) AS n FROM share.population", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["columns"] == ["n"] and body["rows"][0][0] > 0 and "share.population" in body["snapshots"]
    r = run("SELECT * FROM clean.population LIMIT 1", "--json", "--user", "officer")
    assert r.returncode == 2 and json.loads(r.stdout)["error"] == "reason_required"
    r = run("SELECT * FROM clean.population LIMIT 1", "--json", "--user", "officer", "--reason", "核对户籍")
    assert r.returncode == 0 and len(json.loads(r.stdout)["rows"]) == 1
    r = run("SELECT 1 FROM share.population", "--user", "nobody")
    assert r.returncode == 2 and "no active account" in r.stderr


def test_console_page(lake_install, signed_in):
    c = signed_in("admin")
    page = c.get("/workspace/lake/sql")
    token = csrf_from(page.text)
    r = c.post("/workspace/lake/sql", data={"csrf_token": token, "sql": "SELECT count(*) AS n FROM share.population"})
    assert r.status_code == 200 and 'id="sql-result"' in r.text
    r = c.post("/workspace/lake/sql", data={"csrf_token": token, "sql": "DROP TABLE share.population"})
    assert r.status_code == 422 and 'id="sql-error"' in r.text
