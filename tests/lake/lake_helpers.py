"""Shared by tests/lake and tests/governance: a committed installation with the lake demo loads.

The platform's SQLite sessions hold the database's single writer lock for a whole transaction,
and the Iceberg catalog lives in the same file, so lake tests cannot run inside the usual
rolled-back test transaction: they get their own committed installation (the reference city
without the event center's history, which they do not need).
"""

from __future__ import annotations

import copy
from pathlib import Path

from helpers import make_settings, new_database
from yiwang.core.config import Settings

VOLUNTEERS = {
    "name": "volunteers",
    "title": "社区志愿者登记信息",
    "classification": "210001",
    "provider": "public_security",
    "abstract": "各村（社区）志愿者的登记信息，用于志愿服务调度和表彰。",
    "format": {"type": "spreadsheet", "detail": "xlsx"},
    "items": [
        {"name": "姓名", "type": "string", "sensitivity": "L3", "personal": True},
        {"name": "公民身份号码", "type": "string", "sensitivity": "L4", "personal": True},
        {"name": "联系电话", "type": "string", "sensitivity": "L3", "personal": True},
        {"name": "服务时长", "type": "decimal", "sensitivity": "L1"},
    ],
    "share": {"type": "conditional", "conditions": "用于志愿服务表彰审核。", "methods": ["api"]},
    "open": {"type": "closed"},
    "update_cycle": "monthly",
    "rules": {
        "columns": [
            {"name": "姓名", "kind": "person_name", "required": True, "mask": {"method": "surname"}},
            {
                "name": "公民身份号码",
                "kind": "resident_id",
                "required": True,
                "mask": {"method": "keep_ends", "first": 6, "last": 4},
                "extra_masks": {"身份假名": {"method": "pseudonym", "key_id": "population"}},
            },
            {"name": "联系电话", "kind": "mobile", "mask": {"method": "encrypt", "key_id": "volunteers-sm4"}},
            {"name": "服务时长", "dtype": "decimal", "kind": "number", "min": 0},
        ],
        "unique_keys": [["公民身份号码"]],
    },
}


def install(tmp: Path) -> tuple[Settings, object]:
    """Migrate and seed a fresh installation (no event history) plus the ``volunteers`` test resource."""
    import yiwang.governance  # noqa: F401  (registers the rules validator)
    from yiwang import catalog
    from yiwang.core import crypto
    from yiwang.core.audit import Origin
    from yiwang.core.db import make_engine, make_sessionmaker, upgrade
    from yiwang.core.security import SYSTEM_ACTOR
    from yiwang.reference import kunshan

    database = new_database(tmp)
    settings = make_settings(tmp / "home", database.url)
    settings.home_path.mkdir(parents=True, exist_ok=True)
    crypto.configure_column_key(settings.data_key_bytes)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    parts = kunshan.PARTS[:]
    kunshan.PARTS[:] = [p for p in parts if not p[0].startswith("events")]
    try:
        with make_sessionmaker(engine)() as session:
            kunshan.seed(session, settings)
    finally:
        kunshan.PARTS[:] = parts
    with make_sessionmaker(engine)() as session:
        import yaml

        docs = catalog.load_entry_file(
            yaml.safe_dump(copy.deepcopy(VOLUNTEERS), allow_unicode=True), source="volunteers.yaml"
        )
        catalog.apply_documents(session, actor=SYSTEM_ACTOR, docs=docs, origin=Origin("test"), submit=True)
        catalog.publish_resource(session, actor=SYSTEM_ACTOR, name="volunteers", origin=Origin("test"))
        session.commit()
    from yiwang.governance import jobs

    factory = make_sessionmaker(engine)
    while True:  # the demo loads the first start queues, run here as the web worker would
        with factory() as session:
            row = jobs.claim(session, worker="test")
        if row is None:
            break
        jobs.run_claimed(factory, settings, row.id)
    engine.dispose()
    return settings, database


def valid_id(region: str, birth: str, seq: int, male: bool) -> str:
    """A GB 11643 resident ID with a correct check digit."""
    s = seq * 2 + (1 if male else 0)
    body = f"{region}{birth}{s % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


def volunteers_csv(path: Path, rows: list[tuple], encoding: str = "utf-8") -> Path:
    lines = ["姓名,公民身份号码,联系电话,服务时长"] + [",".join(str(v) for v in r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def people(n: int, start: int = 0, hours: int = 10) -> list[tuple]:
    return [
        (
            f"张{'三四五六七八九'[i % 7]}",
            valid_id("320583", f"19{80 + i % 20}0{1 + i % 9}1{i % 9}", i, i % 2 == 0),
            f"138{i:08d}",
            hours + i,
        )
        for i in range(start, start + n)
    ]


def parquet_codecs(lake, name: str) -> tuple[set[str], int]:
    """The compression codecs of a table's current data files, and their total size in bytes."""
    import pyarrow.parquet as pq

    from yiwang.core.lake.writes import snapshot_data_files

    table = lake.table(name)
    files = snapshot_data_files(table.io, table.current_snapshot())
    codecs = set()
    for f in files:
        with table.io.new_input(f.file_path).open() as fh:
            meta = pq.ParquetFile(fh).metadata
            codecs |= {
                meta.row_group(g).column(c).compression
                for g in range(meta.num_row_groups)
                for c in range(meta.num_columns)
            }
    return codecs, sum(f.file_size_in_bytes for f in files)
