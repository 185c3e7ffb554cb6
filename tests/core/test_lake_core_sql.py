"""Read-only SQL for staff: results, limits, and refusal of anything that is not a lake read."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from helpers import new_database
from yiwang.core.lake import Lake, QueryError, QueryLimits
from yiwang.core.lake.bench import population


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """One lake shared by these read-only tests (filling it is the slow part)."""
    folder = tmp_path_factory.mktemp("sql")
    database = new_database(folder)
    lake = Lake(database.url, str(folder / "lake"))
    lake.write("clean.population", population(2000, batch_rows=500))
    lake.write("share.towns", pa.table({"town": ["玉山镇", "周庄镇"], "人口": [10, 20]}))
    yield lake
    lake.close()
    database.drop()


def test_select_returns_arrow_rows_across_zones(filled):
    table = filled.sql(
        'SELECT p.town, t."人口" AS people, count(*) AS n FROM clean.population p '
        "JOIN share.towns t USING (town) GROUP BY ALL ORDER BY p.town"
    )
    assert isinstance(table, pa.Table)
    assert table.column("town").to_pylist() == ["周庄镇", "玉山镇"]
    expected = filled.read("clean.population", row_filter="town == '玉山镇'").num_rows
    assert table.column("n").to_pylist()[1] == expected > 0


def test_row_limit_cuts_and_says_so(filled):
    result = filled.query("SELECT * FROM clean.population ORDER BY person_id", limits=QueryLimits(max_rows=150))
    assert result.truncated and result.table.num_rows == 150
    assert result.table.column("person_id").to_pylist() == sorted(result.table.column("person_id").to_pylist())
    whole = filled.query("SELECT * FROM clean.population", limits=QueryLimits(max_rows=None))
    assert not whole.truncated and whole.table.num_rows == 2000


def test_empty_result_keeps_its_columns(filled):
    table = filled.sql("SELECT person_id, town FROM clean.population WHERE false")
    assert table.num_rows == 0 and table.schema.names == ["person_id", "town"]


def test_batches_stream_the_whole_result(filled):
    reader = filled.sql_batches("SELECT person_id FROM clean.population")
    assert isinstance(reader, pa.RecordBatchReader)
    assert sum(batch.num_rows for batch in reader) == 2000


def test_timeout_cancels_a_runaway_query(filled):
    started = time.monotonic()
    with pytest.raises(QueryError, match="cancelled"):
        filled.sql(
            "SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b",
            limits=QueryLimits(timeout_seconds=0.5),
        )
    assert time.monotonic() - started < 10


def test_unknown_table_and_bad_syntax_give_clear_errors(filled):
    with pytest.raises(QueryError, match="does not exist"):
        filled.sql("SELECT * FROM raw.nope")
    with pytest.raises(QueryError, match="syntax"):
        filled.sql("SELEC 1")


def test_the_sandbox_is_locked(filled):
    settings = filled.sql(
        "SELECT current_setting('enable_external_access') AS ext, current_setting('lock_configuration') AS locked"
    ).to_pylist()[0]
    assert settings == {"ext": False, "locked": True}


@pytest.mark.parametrize(
    "query",
    [
        "COPY (SELECT 1) TO '/tmp/yiwang-leak.csv'",
        "ATTACH '/tmp/yiwang-other.db' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "PRAGMA database_list",
        "CALL pragma_version()",
        "CREATE TABLE leak AS SELECT 1",
        "DROP SCHEMA clean CASCADE",
        "EXPORT DATABASE '/tmp/yiwang-export'",
        "EXPLAIN SELECT 1",
        "SELECT 1; SELECT 2",
        "SELECT 1; COPY (SELECT 1) TO '/tmp/yiwang-leak.csv'",
        "",
    ],
)
def test_statements_other_than_one_select_are_refused(filled, query):
    with pytest.raises(QueryError, match=r"only SELECT|exactly one statement"):
        filled.sql(query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_json('/etc/os-release')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM query('SELECT * FROM read_csv(''/etc/passwd'')')",
        "SELECT * FROM clean.population, read_csv('/etc/passwd')",
    ],
)
def test_files_outside_the_lake_cannot_be_read(filled, query):
    with pytest.raises(QueryError, match=r"not allowed|does not exist"):
        filled.sql(query)


def test_lake_files_of_tables_not_named_in_the_query_cannot_be_read(filled):
    other = filled.table("clean.population").scan().plan_files()
    path = next(iter(other)).file.file_path.removeprefix("file://")
    assert filled.sql(f"SELECT count(*) AS n FROM read_parquet('{path}')  , clean.population LIMIT 1").num_rows == 1
    with pytest.raises(QueryError, match="not allowed"):
        filled.sql(f"SELECT count(*) FROM read_parquet('{path}'), share.towns")


def test_python_variables_are_not_visible_to_queries(filled):
    secret_rows = pa.table({"secret": ["do not show"]})  # DuckDB would find this name on the stack
    assert secret_rows.num_rows == 1
    with pytest.raises(QueryError, match="secret_rows"):
        filled.sql("SELECT * FROM secret_rows")


def test_time_travel_syntax_is_pointed_to_the_option(filled):
    with pytest.raises(QueryError, match="as_of"):
        filled.sql("SELECT * FROM clean.population AT (VERSION => 1)")


def test_names_are_case_insensitive_like_sql(filled):
    assert filled.sql("SELECT count(*) AS n FROM CLEAN.Population").column("n").to_pylist() == [2000]
