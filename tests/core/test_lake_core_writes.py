"""Writing tables: append, replace, upsert, schema evolution, streaming into many files."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from yiwang.core.lake import Lake, Target, WriteMode
from yiwang.core.lake.bench import population


def people(ids: list[int], name_prefix: str = "p") -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "name": [f"{name_prefix}{i}" for i in ids]})


def rows(lake: Lake, name: str) -> dict[int, str]:
    table = lake.read(name)
    return dict(zip(table.column("id").to_pylist(), table.column("name").to_pylist()))


def test_append_adds_rows_in_one_snapshot_per_write(lake):
    lake.write("raw.people", people([1, 2]))
    lake.write("raw.people", people([3]))
    assert rows(lake, "raw.people") == {1: "p1", 2: "p2", 3: "p3"}
    history = lake.history("raw.people")
    assert [h.operation for h in history] == ["append", "append"]
    assert [h.added_rows for h in history] == [2, 1]


def test_replace_makes_the_rows_the_whole_table(lake):
    lake.write("clean.people", people([1, 2, 3]))
    result = lake.write("clean.people", people([7]), mode="replace")
    assert rows(lake, "clean.people") == {7: "p7"}
    last = lake.history("clean.people")[-1]
    assert (last.operation, last.deleted_rows, last.added_rows) == ("overwrite", 3, 1)
    assert last.snapshot_id == result.snapshots["clean.people"]


def test_replace_with_no_rows_empties_the_table(lake):
    lake.write("clean.people", people([1, 2]))
    lake.write("clean.people", iter([]), mode="replace")
    assert lake.read("clean.people").num_rows == 0


def test_upsert_replaces_matching_keys_and_adds_new_ones(lake):
    lake.write("clean.people", people([1, 2, 3]))
    result = lake.write("clean.people", people([2, 4], "new"), mode=WriteMode.UPSERT, key=["id"])
    assert rows(lake, "clean.people") == {1: "p1", 2: "new2", 3: "p3", 4: "new4"}
    assert result.rows_replaced == {"clean.people": 1}
    assert len(lake.history("clean.people")) == 2  # one snapshot for the whole upsert


def test_upsert_rewrites_only_files_holding_a_replaced_key(small_files_lake):
    lake = small_files_lake
    lake.write("clean.people", people(list(range(5000))))
    before = {t.file.file_path for t in lake.table("clean.people").scan().plan_files()}
    assert len(before) > 3, "small target size should have produced several files"
    lake.write("clean.people", people([10], "changed"), mode="upsert", key=["id"])
    after = {t.file.file_path for t in lake.table("clean.people").scan().plan_files()}
    dropped = before - after
    assert len(dropped) == 1, "only the file containing id 10 is rewritten"
    assert rows(lake, "clean.people")[10] == "changed10"
    assert lake.read("clean.people").num_rows == 5000


def test_upsert_matches_on_composite_keys_with_nulls(lake):
    base = pa.table({"town": ["a", "a", None], "no": [1, 2, 1], "v": ["x", "y", "z"]})
    lake.write("clean.houses", base)
    lake.write(
        "clean.houses",
        pa.table({"town": [None, "a"], "no": [1, 3], "v": ["Z", "w"]}),
        mode="upsert",
        key=["town", "no"],
    )
    got = {(r["town"], r["no"]): r["v"] for r in lake.read("clean.houses").to_pylist()}
    assert got == {("a", 1): "x", ("a", 2): "y", (None, 1): "Z", ("a", 3): "w"}


def test_upsert_refuses_duplicate_keys_and_leaves_table_unchanged(lake):
    lake.write("clean.people", people([1]))
    with pytest.raises(ValueError, match="more than once"):
        lake.write("clean.people", people([2, 2]), mode="upsert", key=["id"])
    assert rows(lake, "clean.people") == {1: "p1"}


def test_upsert_requires_known_key_columns(lake):
    lake.write("clean.people", people([1]))
    with pytest.raises(ValueError, match="key"):
        lake.write("clean.people", people([1]), mode="upsert", key=["nope"])


def test_schema_evolves_by_name_and_old_rows_read_null(lake):
    lake.write("raw.people", people([1]))
    lake.write("raw.people", pa.table({"id": pa.array([2], pa.int32()), "name": ["b"], "town": ["周庄镇"]}))
    table = lake.read("raw.people").sort_by("id")
    assert table.schema.field("id").type == pa.int64(), "narrower input is cast up, not narrowing the table"
    assert table.column("town").to_pylist() == [None, "周庄镇"]


def test_columns_missing_from_input_are_filled_with_nulls(lake):
    lake.write("raw.people", pa.table({"id": [1], "name": ["a"], "town": ["x"]}))
    lake.write("raw.people", pa.table({"id": [2], "name": ["b"]}))
    table = lake.read("raw.people")
    assert dict(zip(table.column("id").to_pylist(), table.column("town").to_pylist())) == {1: "x", 2: None}


def test_nanosecond_timestamps_and_dictionaries_are_accepted(lake):
    stamps = pa.array([1_700_000_000_123_456_789], pa.timestamp("ns"))
    towns = pa.array(["玉山镇"]).dictionary_encode()
    lake.write("raw.events", pa.table({"at": stamps, "town": towns}))
    table = lake.read("raw.events")
    assert table.schema.field("at").type == pa.timestamp("us")
    assert table.column("town").to_pylist() == ["玉山镇"]


def test_streamed_batches_roll_into_several_files_with_correct_counts(small_files_lake):
    lake = small_files_lake
    batches = population(20_000, batch_rows=3000)
    result = lake.write("raw.population", batches)
    assert result.rows_written == {"raw.population": 20_000}
    tasks = list(lake.table("raw.population").scan().plan_files())
    assert len(tasks) > 1
    assert sum(t.file.record_count for t in tasks) == 20_000
    for task in tasks:  # files carry Iceberg field ids and the configured codec
        meta = pq.read_metadata(task.file.file_path.removeprefix("file://"))
        assert meta.schema.to_arrow_schema().field("person_id").metadata[b"PARQUET:field_id"] == b"1"
        assert meta.row_group(0).column(0).compression == "ZSTD"
    ids = lake.read("raw.population", columns=["person_id"]).column("person_id")
    assert pc.count_distinct(ids).as_py() == 20_000


def test_column_statistics_let_scans_skip_files(small_files_lake):
    lake = small_files_lake
    lake.write("raw.people", people(list(range(5000))))
    all_files = list(lake.table("raw.people").scan().plan_files())
    some_files = list(lake.table("raw.people").scan(row_filter="id >= 4990").plan_files())
    assert 0 < len(some_files) < len(all_files)


def test_failure_mid_stream_keeps_previous_snapshot_and_cleanup_removes_leftovers(small_files_lake):
    lake = small_files_lake
    lake.write("raw.population", population(100))
    before = lake.table("raw.population").current_snapshot().snapshot_id

    def broken_stream():
        yield from population(5000, batch_rows=1000, first_id=100)
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        lake.write("raw.population", broken_stream())
    assert lake.table("raw.population").current_snapshot().snapshot_id == before
    assert lake.read("raw.population").num_rows == 100

    data_dir = Path(lake.table("raw.population").location().removeprefix("file://")) / "data"
    assert len(list(data_dir.glob("*.parquet"))) > 1, "the failed write left staged files behind"
    assert lake.cleanup_orphans(older_than=timedelta(hours=1)) == [], "young files are kept: a load may be running"
    removed = lake.cleanup_orphans(older_than=timedelta(0))
    assert removed and all(p.endswith(".parquet") for p in removed)
    assert len(list(data_dir.glob("*.parquet"))) == 1
    assert lake.read("raw.population").num_rows == 100


def test_declared_schema_creates_an_empty_table(lake):
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    result = lake.write("share.people", iter([]), schema=schema)
    assert lake.exists("share.people")
    assert result.snapshots == {"share.people": None}
    assert lake.schema("share.people").names == ["id", "name"]


def test_table_names_are_checked(lake):
    with pytest.raises(ValueError, match="zone"):
        lake.write("elsewhere.people", people([1]))
    with pytest.raises(ValueError, match="letters"):
        lake.write("raw.bad-name", people([1]))


def test_tables_lists_by_zone(lake):
    lake.write("raw.a", people([1]))
    lake.write("clean.b", people([1]))
    assert lake.tables() == ["clean.b", "raw.a"]
    assert lake.tables("raw") == ["raw.a"]


def test_target_accepts_mode_strings_and_insists_on_upsert_keys():
    assert Target.of("append").mode is WriteMode.APPEND
    assert Target("upsert", key=["id"]).key == ("id",)
    with pytest.raises(ValueError):
        Target.of("merge")
    with pytest.raises(ValueError, match="key"):
        Target.of("upsert")


def test_string_bounds_are_kept_for_key_columns_only_by_default(tmp_path):
    from yiwang.core.lake import ParquetOptions

    def bounds(lake: Lake, name: str) -> set[int]:
        files = [t.file for t in lake.table(name).scan().plan_files()]
        return set(files[0].lower_bounds)

    lean = Lake(f"sqlite:///{tmp_path}/a.db", str(tmp_path / "a"))
    lean.write("clean.by_key", people([1, 2]), mode="upsert", key=["name"])
    lean.write("raw.appended", people([1, 2]))
    assert bounds(lean, "clean.by_key") == {1, 2}, "key column 'name' keeps its bounds"
    assert bounds(lean, "raw.appended") == {1}, "non-key string column has none"
    full = Lake(f"sqlite:///{tmp_path}/b.db", str(tmp_path / "b"), parquet=ParquetOptions(string_statistics="all"))
    full.write("raw.appended", people([1, 2]))
    assert bounds(full, "raw.appended") == {1, 2}


def test_lake_from_platform_settings_uses_the_platform_database_and_home(tmp_path):
    from yiwang.core.config import Settings

    settings = Settings(home=tmp_path)
    lake = Lake.from_settings(settings)
    lake.write("raw.people", people([1]))
    assert lake.location == (tmp_path / "lake").resolve().as_uri()
    assert (tmp_path / "yiwang.db").exists(), "the catalog lives in the platform's SQLite database"
    assert lake.table("raw.people").location().startswith(lake.location + "/raw/people")
    lake.close()


def test_cleanup_finds_files_of_a_table_whose_creation_never_committed(lake):
    lake.write("raw.people", people([1]))
    stray = Path(lake.location.removeprefix("file://")) / "raw" / "ghost" / "data" / "x.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1")
    assert str(stray) in lake.cleanup_orphans(older_than=timedelta(0))
    assert not stray.exists()
    assert rows(lake, "raw.people") == {1: "p1"}


@pytest.mark.parametrize(("preset", "expected"), [(None, "system"), ("mimalloc", "mimalloc")])
def test_arrow_allocates_through_malloc_unless_the_operator_says_otherwise(preset, expected):
    """``import yiwang`` makes glibc malloc Arrow's default pool (the one Parquet's encoders use),
    before pyarrow first allocates; an operator's own ARROW_DEFAULT_MEMORY_POOL is kept."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if preset:
        env["ARROW_DEFAULT_MEMORY_POOL"] = preset
    code = (
        "import yiwang.core.lake, pyarrow as pa, pyarrow.parquet as pq; "
        "pq.write_table(pa.table({'a': ['x'] * 1000}), pa.BufferOutputStream()); "
        "print(pa.default_memory_pool().backend_name)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
