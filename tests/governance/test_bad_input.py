"""Bad files: a precise message naming file, line and column; the lake keeps its previous snapshot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import openpyxl
import pytest
from lake_helpers import people, volunteers_csv

from helpers import env_for
from yiwang import lake
from yiwang.core.audit import Origin
from yiwang.core.errors import YiwangError
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file, jobs
from yiwang.governance.bench import synth
from yiwang.governance.models import Load

ZONES = ["raw.volunteers", "clean.volunteers", "share.volunteers", "quarantine.volunteers"]


@pytest.fixture
def before(lake_install, lake_factory, tmp_path):
    ingest_file(
        lake_factory,
        settings=lake_install,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "base.csv", people(30, start=1000)),
        mode="append",
        origin=Origin("t"),
    )
    return lake.lake_for(lake_install).current_snapshots(ZONES)


def _refused(factory, settings, path, **kw) -> YiwangError:
    with pytest.raises(YiwangError) as exc:
        ingest_file(
            factory, settings=settings, actor=SYSTEM_ACTOR, name="volunteers", path=path, origin=Origin("t"), **kw
        )
    return exc.value


def _xlsx(path, sheets=1, merge=False):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "公民身份号码", "联系电话", "服务时长"])
    for row in people(3, start=2000):
        ws.append(list(row))
    if merge:
        ws.merge_cells("A2:A3")
    for i in range(1, sheets):
        wb.create_sheet(f"第{i + 1}页").append(["x"])
    wb.save(path)
    return path


def test_bad_files_are_refused_precisely(lake_install, lake_factory, tmp_path, before):
    good = volunteers_csv(tmp_path / "g.csv", people(40, start=3000))
    data = good.read_bytes()
    cases = {
        "truncated": (tmp_path / "truncated.csv", data[: len(data) // 2] + b'"unterminated', {}),
        "wrong_encoding": (
            volunteers_csv(tmp_path / "gbk.csv", people(5, start=3100), encoding="gbk"),
            None,
            {"options": {"encoding": "utf-8"}},
        ),
        "header": (tmp_path / "header.csv", "姓名,公民身份号码,服务时长\n张三,1,2\n".encode(), {}),
        "unknown": (tmp_path / "unknown.csv", "姓名,公民身份号码,联系电话,服务时长,备注\n".encode(), {}),
        "merged": (_xlsx(tmp_path / "merged.xlsx", merge=True), None, {}),
        "sheets": (_xlsx(tmp_path / "sheets.xlsx", sheets=2), None, {}),
    }
    seen = {}
    for label, (path, content, kw) in cases.items():
        if content is not None:
            path.write_bytes(content)
        err = _refused(lake_factory, lake_install, path, **kw)
        seen[label] = err
        assert err.status_code == 422, (label, err.message)
        assert err.detail["file"] == path.name, label
    assert seen["truncated"].code == "truncated_file" and seen["truncated"].detail["line"]
    assert (
        seen["wrong_encoding"].code in ("encoding_mismatch", "encoding_error") and seen["wrong_encoding"].detail["line"]
    )
    assert seen["header"].code == "missing_columns" and seen["header"].detail["column"] == "联系电话"
    assert seen["header"].detail["line"] == 1
    assert seen["unknown"].code == "unknown_columns" and seen["unknown"].detail["column"] == "备注"
    assert seen["merged"].code == "xlsx_merged_cells"
    assert seen["sheets"].code == "xlsx_sheet_required"
    assert lake.lake_for(lake_install).current_snapshots(ZONES) == before  # nothing moved
    with lake_factory() as session:
        failed = session.query(Load).filter(Load.status == "failed", Load.resource == "volunteers").all()
        errors = [json.loads(r.error) for r in failed]
        assert {"truncated_file", "missing_columns", "unknown_columns"} <= {e["code"] for e in errors}
        assert all(e["file"] for e in errors)


def test_two_gigabyte_file_is_refused_without_reading(lake_install, lake_factory, tmp_path, before):
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.write("姓名,公民身份号码,联系电话,服务时长\n".encode())
        fh.truncate(2 << 30)  # sparse: 2 GiB on paper, nothing on disk
    started = time.perf_counter()
    err = _refused(lake_factory, lake_install, big)
    assert err.status_code == 413 and err.code == "file_too_large"
    assert time.perf_counter() - started < 30  # hashed, not parsed; the engine refused by size
    assert lake.lake_for(lake_install).current_snapshots(ZONES) == before


def test_duplicate_key_first_row_kept_later_quarantined(lake_install, lake_factory, tmp_path):
    rows = people(3, start=4000)
    dup = (rows[0][0], rows[0][1], rows[0][2], 99)
    result = ingest_file(
        lake_factory,
        settings=lake_install,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "dup.csv", [*rows, dup]),
        origin=Origin("t"),
    )
    assert result.rows_accepted == 3 and result.rows_quarantined == 1
    assert result.quarantine_by_rule == {"unique": 1}
    q = lake.lake_for(lake_install).read("quarantine.volunteers", row_filter=f"_load_id == '{result.id}'").to_pylist()
    assert q[0]["_line"] == 5 and q[0]["_rule"] == "unique" and q[0]["_column"] == "公民身份号码"


def test_killed_load_leaves_previous_snapshot_and_is_marked_failed(lake_install, lake_factory, tmp_path):
    path = synth.write_population_csv(tmp_path / "huge.csv", 1_000_000, seed=3).path
    before = lake.lake_for(lake_install).current_snapshots(["raw.population", "clean.population", "share.population"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "yiwang.cli", "ingest", "population", str(path), "--json"],
        env=env_for(lake_install),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    load_id = None
    while time.time() < deadline and load_id is None:
        with lake_factory() as session:
            row = (
                session.query(Load)
                .filter(Load.source_name == "huge.csv", Load.status == "running", Load.progress_rows > 0)
                .first()
            )
            load_id = row.id if row else None
        time.sleep(0.1)
    assert load_id, "the load never started"
    os.kill(proc.pid, signal.SIGKILL)  # mid-way: 1 M rows take several seconds, progress shows after 0.25 s
    proc.wait(timeout=20)
    counts = jobs.recover(lake_factory, lake_install, stale_seconds=0)
    assert counts["failed"] >= 1
    with lake_factory() as session:
        row = session.get(Load, load_id)
        assert row.status == "failed" and json.loads(row.error)["code"] == "interrupted"
    assert (
        lake.lake_for(lake_install).current_snapshots(["raw.population", "clean.population", "share.population"])
        == before
    )
