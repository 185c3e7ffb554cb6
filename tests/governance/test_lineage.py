"""OpenLineage: START and COMPLETE/FAIL per load, column lineage, validation, the API, forwarding."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from lake_helpers import people, volunteers_csv

from yiwang.core.audit import Origin
from yiwang.core.errors import YiwangError
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file, lineage
from yiwang.governance.models import LineageEvent


def test_load_events_validate_and_carry_column_lineage(lake_install, lake_factory, tmp_path, signed_in):
    load = ingest_file(
        lake_factory,
        settings=lake_install,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "l.csv", people(4, start=8000)),
        origin=Origin("t"),
    )
    c = signed_in("officer")
    events = c.get(f"/api/v1/lineage/events?run_id={load.run_id}").json()["events"]
    assert [e["eventType"] for e in reversed(events)] == ["START", "COMPLETE"]
    for e in events:
        lineage.validate(e)
    complete = events[0]
    assert complete["inputs"][0]["name"] == "l.csv"
    outputs = {o["name"]: o for o in complete["outputs"]}
    assert set(outputs) == {"raw.volunteers", "clean.volunteers", "share.volunteers", "quarantine.volunteers"}
    share = outputs["share.volunteers"]["facets"]["columnLineage"]["fields"]
    id_field = share["公民身份号码"]["inputFields"][0]
    assert id_field["name"] == "clean.volunteers" and id_field["transformations"][0]["masking"] is True
    assert share["身份假名"]["inputFields"][0]["transformations"][0]["description"] == "mask: pseudonym"
    clean = outputs["clean.volunteers"]["facets"]["columnLineage"]["fields"]
    assert clean["姓名"]["inputFields"][0]["name"] == "raw.volunteers"
    assert outputs["clean.volunteers"]["outputFacets"]["outputStatistics"]["rowCount"] == 4
    graph = c.get("/api/v1/lineage/graph?resource=volunteers").json()
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"file", "raw", "clean", "share", "quarantine"} <= kinds
    names = {n["id"]: n["name"] for n in graph["nodes"]}
    flows = {(names[e["source"]], names[e["target"]]) for e in graph["edges"]}
    assert {
        ("l.csv", "raw.volunteers"),
        ("raw.volunteers", "clean.volunteers"),
        ("clean.volunteers", "share.volunteers"),
        ("raw.volunteers", "quarantine.volunteers"),
    } <= flows


def test_failed_load_emits_fail_and_invalid_events_are_refused(lake_install, lake_factory, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名\n张三\n", encoding="utf-8")
    with pytest.raises(YiwangError) as exc:
        ingest_file(
            lake_factory, settings=lake_install, actor=SYSTEM_ACTOR, name="volunteers", path=bad, origin=Origin("t")
        )
    with lake_factory() as session:
        rows = (
            session.query(LineageEvent)
            .filter(LineageEvent.resource == "volunteers")
            .order_by(LineageEvent.id.desc())
            .limit(2)
            .all()
        )
        fail = json.loads(rows[0].payload)
    assert fail["eventType"] == "FAIL" and "missing_columns" in fail["run"]["facets"]["errorMessage"]["message"]
    assert exc.value.detail["load_id"]
    for broken in (
        {**fail, "eventTime": "yesterday"},
        {**fail, "run": {"runId": "not-a-uuid"}},
        {k: v for k, v in fail.items() if k != "producer"},
    ):
        with pytest.raises(lineage.LineageInvalid):
            lineage.validate(broken)


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(json.loads(body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_events_are_forwarded_and_a_dead_endpoint_never_fails_the_load(lake_install, lake_factory, tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/v1/lineage"
        settings = lake_install.model_copy(update={"openlineage_url": url})
        load = ingest_file(
            lake_factory,
            settings=settings,
            actor=SYSTEM_ACTOR,
            name="volunteers",
            path=volunteers_csv(tmp_path / "f.csv", people(3, start=8100)),
            origin=Origin("t"),
        )
        lineage.wait_forwarding(20)
        got = [e for e in _Collector.received if e["run"]["runId"] == load.run_id]
        assert [e["eventType"] for e in got] == ["START", "COMPLETE"]
        with lake_factory() as session:
            rows = session.query(LineageEvent).filter(LineageEvent.run_id == load.run_id).all()
            assert all(r.forwarded_at is not None for r in rows)
    finally:
        server.shutdown()
        server.server_close()  # the port now refuses connections
    dead = lake_install.model_copy(update={"openlineage_url": f"http://127.0.0.1:{server.server_port}/gone"})
    load = ingest_file(
        lake_factory,
        settings=dead,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "g.csv", people(3, start=8200)),
        origin=Origin("t"),
    )
    assert load.status == "committed"
    lineage.wait_forwarding(30)
    with lake_factory() as session:
        rows = session.query(LineageEvent).filter(LineageEvent.run_id == load.run_id).all()
        assert rows and all(r.forwarded_at is None and r.forward_error for r in rows)
