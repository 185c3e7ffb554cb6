"""``yiwang lake compact``: staff re-encode a resource's zone tables; same rows, audited, in scope only."""

from __future__ import annotations

import json

from lake_helpers import parquet_codecs, people, volunteers_csv
from sqlalchemy import select

from yiwang.core.audit import AuditEntry, Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file
from yiwang.lake.handle import lake_for


def test_compaction_reencodes_every_zone_keeps_the_rows_and_is_audited(
    lake_install, lake_factory, tmp_path, yiwang_cli
):
    load = ingest_file(
        lake_factory,
        settings=lake_install,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "v.csv", people(40)),
        mode="replace",
        origin=Origin("t"),
    )
    lake = lake_for(lake_install)
    assert parquet_codecs(lake, "share.volunteers")[0] == {"UNCOMPRESSED"}  # as the load wrote it
    rows = {z: lake.read(f"{z}.volunteers").num_rows for z in ("raw", "clean", "share")}

    refused = yiwang_cli(lake_install, "lake", "compact", "volunteers", "--user", "leader", "--json")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert json.loads(refused.stdout)["error"] == "forbidden"

    done = yiwang_cli(lake_install, "lake", "compact", "volunteers", "--json")
    assert done.returncode == 0, done.stderr
    snapshots = json.loads(done.stdout)["snapshots"]
    lake = lake_for(lake_install)
    for zone in ("raw", "clean", "share"):
        table = f"{zone}.volunteers"
        assert snapshots[table] not in (None, load.snapshots[table])
        assert parquet_codecs(lake, table)[0] == {"ZSTD"}
        assert lake.read(table).num_rows == rows[zone]
        assert lake.read(table, snapshot_id=load.snapshots[table]).num_rows == rows[zone]  # time travel
    with lake_factory() as session:
        entry = (
            session.execute(
                select(AuditEntry).where(AuditEntry.action == "lake.compact").order_by(AuditEntry.id.desc())
            )
            .scalars()
            .first()
        )
    assert entry is not None and entry.target_id == "volunteers"
