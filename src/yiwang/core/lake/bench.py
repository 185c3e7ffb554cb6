"""Lake write benchmark: ``python -m yiwang.core.lake.bench --rows 2700000``.

CPU seconds are printed beside wall time: on a shared machine they are the steadier number.

Streams a synthetic population register (9 string columns, Kunshan-like values)
into one zone and into three zones, then upserts a tenth of the keys, printing
rows/s and peak resident memory for each step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yiwang.core.lake import Lake, ParquetOptions, WriteMode

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国志红")
TOWNS = [
    "玉山镇",
    "巴城镇",
    "周市镇",
    "陆家镇",
    "花桥镇",
    "淀山湖镇",
    "张浦镇",
    "周庄镇",
    "千灯镇",
    "锦溪镇",
    "开发区",
    "高新区",
]


def population(rows: int, *, batch_rows: int = 65_536, seed: int = 7, first_id: int = 0) -> Iterator[pa.RecordBatch]:
    """Synthetic residents: unique ids and phones, repeated names, towns, addresses and jobs."""
    rng = np.random.default_rng(seed)
    names = pa.array([a + b + c for a in SURNAMES for b in GIVEN for c in GIVEN[:10]])
    streets = pa.array(
        [f"昆山市{t}{rng.integers(1, 300)}号路{rng.integers(1, 200)}弄" for t in TOWNS for _ in range(4000)]
    )
    jobs = pa.array([f"职业{i:03d}" for i in range(120)])
    towns, genders = pa.array(TOWNS), pa.array(["男", "女"])
    days = pa.array(np.datetime64("1940-01-01") + np.arange(30_000).astype("timedelta64[D]"))
    dates, compact = pc.strftime(days, "%Y-%m-%d"), pc.strftime(days, "%Y%m%d")
    for start in range(first_id, first_id + rows, batch_rows):
        n = min(batch_rows, first_id + rows - start)
        seq = np.arange(start, start + n, dtype=np.int64)
        day = pa.array(rng.integers(0, len(days), n))

        def pick(pool: pa.Array, n: int = n) -> pa.Array:
            return pool.take(pa.array(rng.integers(0, len(pool), n)))

        suffix = pc.utf8_lpad(pc.cast(pa.array(seq % 10_000), pa.string()), 4, "0")
        yield pa.record_batch(
            {
                "person_id": pc.cast(pa.array(seq + 10_000_000), pa.string()),
                "id_card": pc.binary_join_element_wise("320583", compact.take(day), suffix, ""),
                "name": pick(names),
                "gender": pick(genders),
                "birth_date": dates.take(day),
                "phone": pc.cast(pa.array(13_000_000_000 + rng.integers(0, 999_999_999, n)), pa.string()),
                "town": pick(towns),
                "address": pick(streets),
                "occupation": pick(jobs),
            }
        )


def peak_rss_mb() -> float:
    """Peak resident memory since the last ``reset_peak_rss`` (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _step(label: str, rows: int, run: Callable[[], object]) -> None:
    reset_peak_rss()
    started, cpu_started = time.perf_counter(), time.process_time()
    run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"{label:<36} {rows:>10,} rows {seconds:6.2f} s {rows / seconds:>11,.0f} rows/s "
        f"cpu {cpu:6.2f} s ({cpu / rows * 1e6:5.2f} core-s/M rows)  peak RSS {peak_rss_mb():6.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_700_000)
    parser.add_argument("--compression", default="zstd")
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--upsert-rows", type=int, default=None, help="rows to upsert (default: a tenth)")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the catalog (default: SQLite in a temp folder)")
    args = parser.parse_args()
    rows = args.rows
    with tempfile.TemporaryDirectory(prefix="yiwang-lake-bench-") as tmp:
        options = ParquetOptions(compression=args.compression, compression_level=args.level)
        lake = Lake(
            args.db or f"sqlite:///{tmp}/catalog.db",
            f"{tmp}/lake",
            parquet=options,
            catalog_name=f"bench_{Path(tmp).name[-8:]}",
        )
        print(f"codec {args.compression} level {args.level}, {rows:,} rows x 9 string columns")
        _step("generate only (baseline)", rows, lambda: sum(b.num_rows for b in population(rows)))
        _step("one zone, append", rows, lambda: lake.write("raw.people", population(rows)))

        def three_zones() -> None:
            zones = ("raw.people3", "clean.people3", "share.people3")
            with lake.load(dict.fromkeys(zones, "append")) as load:
                for batch in population(rows):
                    for zone in zones:
                        load.write(zone, batch)

        _step("three zones, one atomic load", rows, three_zones)
        changed = args.upsert_rows or rows // 10
        _step(
            f"upsert {changed:,} keys into one zone",
            changed,
            lambda: lake.write(
                "raw.people",
                population(changed, seed=8, first_id=rows // 2),
                mode=WriteMode.UPSERT,
                key=("person_id",),
            ),
        )
        count = lake.sql("SELECT count(*) AS n FROM raw.people").column("n")[0].as_py()
        assert count == rows, f"upsert changed the row count: {count}"
        _step(
            "sql: count by town over clean zone",
            rows,
            lambda: lake.sql("SELECT town, count(*) FROM clean.people3 GROUP BY town"),
        )
        lake.close()


if __name__ == "__main__":
    main()
