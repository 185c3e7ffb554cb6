"""Ingestion: the CLI summary, the modes, the catalog facts, the audit trail (a real lake, no mocks)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from lake_helpers import people, volunteers_csv
from sqlalchemy import select

from helpers import env_for
from yiwang import catalog, lake
from yiwang.core.audit import AuditEntry, Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file
from yiwang.governance.bench import synth

ORIGIN = Origin("test")


def _ingest(factory, settings, path, mode="append", name="volunteers", **kw):
    return ingest_file(
        factory, settings=settings, actor=SYSTEM_ACTOR, name=name, path=path, mode=mode, origin=ORIGIN, **kw
    )


def test_cli_ingest_json_summary(lake_install, lake_factory, tmp_path):
    manifest = synth.write_population_csv(tmp_path / "人口.csv", 5000, seed=11)
    r = subprocess.run(
        [sys.executable, "-m", "yiwang.cli", "ingest", "population", str(manifest.path), "--mode", "replace", "--json"],
        env=env_for(lake_install),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert {"rows_read", "rows_accepted", "rows_quarantined", "quarantine_by_rule", "snapshot_id"} <= set(summary)
    assert summary["rows_read"] == 5000 == summary["rows_accepted"] + summary["rows_quarantined"]
    assert summary["rows_quarantined"] >= len(manifest.bad) > 0
    assert sum(summary["quarantine_by_rule"].values()) >= summary["rows_quarantined"]
    the_lake = lake.lake_for(lake_install)
    assert the_lake.snapshot_id("clean.population") == summary["snapshot_id"]
    assert the_lake.read("clean.population").num_rows == summary["rows_accepted"]
    assert (
        the_lake.read("quarantine.population", row_filter=f"_load_id == '{summary['load_id']}'").num_rows
        == summary["rows_quarantined"]
    )
    with lake_factory() as session:
        res = catalog.get_resource(session, actor=SYSTEM_ACTOR, name="population")
        assert res.mount.mounted and res.mount.tables["share"] == "share.population"
        assert res.latest_load.rules_applied and res.latest_load.masking_applied
        assert res.latest_load.rows_read == 5000
        actions = session.execute(select(AuditEntry.action).where(AuditEntry.target_id == "population")).scalars().all()
        assert "governance.load" in actions and "catalog.load" in actions
        rates = {i.key: i for i in catalog.indicators(session)}  # the plan's two indicators count our facts
        assert rates["mount_rate"].numerator >= 2 and rates["cleaning_masking_rate"].numerator >= 2


def test_modes_replace_append_upsert(lake_install, lake_factory, tmp_path):
    first = volunteers_csv(tmp_path / "v1.csv", people(50))
    r1 = _ingest(lake_factory, lake_install, first, mode="replace")
    the_lake = lake.lake_for(lake_install)
    assert r1.rows_accepted == 50 and the_lake.read("clean.volunteers").num_rows == 50
    r2 = _ingest(lake_factory, lake_install, volunteers_csv(tmp_path / "v2.csv", people(10, start=50)), mode="append")
    assert r2.rows_accepted == 10 and the_lake.read("clean.volunteers").num_rows == 60
    changed = volunteers_csv(tmp_path / "v3.csv", people(20, start=50, hours=500))  # 10 known keys, 10 new
    r3 = _ingest(lake_factory, lake_install, changed, mode="upsert")
    assert r3.rows_accepted == 20
    clean = the_lake.read("clean.volunteers")
    assert clean.num_rows == 70
    hours = (
        the_lake.sql(f"SELECT max(服务时长) AS h FROM clean.volunteers WHERE _load_id = '{r3.id}'").column(0)[0].as_py()
    )
    assert float(hours) >= 500
    share = the_lake.sql("SELECT count(*), count(DISTINCT _key_0) FROM share.volunteers").to_pylist()[0]
    assert list(share.values()) == [70, 70]  # the share zone follows the upsert through its pseudonymous key
    replaced = _ingest(lake_factory, lake_install, first, mode="replace")
    assert the_lake.read("clean.volunteers").num_rows == replaced.rows_accepted == 50


def test_share_zone_is_masked_and_pseudonyms_join(lake_install, lake_factory, tmp_path):
    rows = people(5, start=300)
    _ingest(lake_factory, lake_install, volunteers_csv(tmp_path / "m.csv", rows), mode="append")
    the_lake = lake.lake_for(lake_install)
    share = the_lake.sql(
        "SELECT 姓名, 公民身份号码, 联系电话, 身份假名 FROM share.volunteers "
        f"WHERE 公民身份号码 LIKE '{rows[0][1][:6]}%' LIMIT 50"
    ).to_pylist()
    assert share and all(r["姓名"].endswith("*") and "********" in r["公民身份号码"] for r in share)
    assert all(isinstance(r["联系电话"], bytes) and b"138" not in r["联系电话"] for r in share)  # SM4 ciphertext
    # the same key_id (population) pseudonymises the same person identically in another resource
    import pyarrow as pa

    from yiwang.governance import keys
    from yiwang.governance.engine import pseudonymise

    expected = pseudonymise(pa.array([rows[0][1]]), keys.pseudonym_key(lake_install, "population")).to_pylist()[0]
    assert expected in {r["身份假名"] for r in share}


def test_no_rules_bad_mode_and_unknown_resource(lake_install, lake_factory, tmp_path):
    path = volunteers_csv(tmp_path / "x.csv", people(2))
    with pytest.raises(Exception) as exc:
        _ingest(lake_factory, lake_install, path, mode="merge")
    assert getattr(exc.value, "code", "") == "invalid" and "mode" in str(exc.value.detail)
    with pytest.raises(Exception) as exc:
        _ingest(lake_factory, lake_install, path, name="no_such_resource")
    assert exc.value.status_code == 404
    with pytest.raises(Exception) as exc:
        _ingest(lake_factory, lake_install, tmp_path / "missing.csv")
    assert exc.value.code == "no_such_file"
