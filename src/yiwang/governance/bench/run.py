"""Engine benchmark: synthetic GB18030 population → ``run()`` → raw/clean/share/quarantine in the lake.

``yiwang bench governance --rows N --json`` (``cli_run``) and ``benchmark(rows=N)`` return one
JSON-ready dict:

* the load goes through ``LakeLoad``: four real Iceberg tables (SQLite catalog, local
  warehouse), committed atomically, with the lake's default Parquet options;
* it runs in a fresh child process, after a warm-up that loads (or, on a machine that has
  never run them, compiles) the numba kernels — reported apart (``kernels``), since it is
  paid once per process, not per row;
* ``cpu_us_per_row`` per stage is thread CPU time (other jobs on the machine do not inflate
  it); ``other`` is the lake's own Parquet writer threads; wall time, rows/s and the machine's
  load average at start and end say how much the machine was shared;
* ``stage_profile``: the same stages run one after the other on the first 500 k rows, process
  CPU around each (so helper threads count where they belong), and the four zones written to
  a lake one at a time: the per-stage cost, and what the two cores could do at best;
* peak RSS is sampled every 100 ms during the load (plus the OS high-water mark);
* the quarantine table read back from the lake must hold exactly the injected bad rows;
* ``io_floor``: the same file read, decoded and written unchanged to raw, clean and share
  tables of a fresh lake (same Parquet options, no governance at all), in the same process
  right after the load — the most any governed load can do on this machine with this storage,
  and ``end_to_end_vs_io_floor`` the share of it the load reaches; the page cache is written
  out (``sync``) before each of the two, so neither pays for flushing what came before;
* a baseline — the same checks and masks done the usual way, pandera element-wise checks and
  a pandas row loop — runs on a sample of the same file, and the ratio is printed.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

KEY = b"benchmark-key-16"
DEFAULT_ROWS = 2_700_000


def cli_run(rows: int | None = None) -> dict[str, Any]:
    """Entry point of ``yiwang bench governance [--rows N] [--json]``."""
    return benchmark(rows or DEFAULT_ROWS)


def benchmark(
    rows: int = DEFAULT_ROWS,
    *,
    workdir: str | Path | None = None,
    baseline_rows: int = 100_000,
    isolate: bool = True,
    keep_files: bool = False,
    sink: str = "lake",
    parquet: dict[str, Any] | None = None,
    profile_rows: int = 500_000,
) -> dict[str, Any]:
    """Generate ``rows`` people, govern them end to end into the lake, compare with a row-loop baseline.

    With ``isolate`` the generator and the load each run in a fresh child process, so the load's
    peak RSS is its own. ``sink="parquet"`` writes plain Parquet files instead of the lake;
    ``parquet`` overrides the lake's ``ParquetOptions`` (default: the lake's own defaults).
    ``profile_rows``: rows of the sequential per-stage CPU profile (0 to skip it).
    """
    own_dir = workdir is None
    work = Path(workdir or tempfile.mkdtemp(prefix="yiwang-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    try:
        if isolate:
            ctx = mp.get_context("spawn")
            with ctx.Pool(1, maxtasksperchild=1) as pool:
                generated = pool.apply(_generate, (rows, str(work)))
            with ctx.Pool(1, maxtasksperchild=1) as pool:
                result = pool.apply(_measure, (generated, str(work), baseline_rows, sink, parquet, profile_rows))
        else:
            result = _measure(_generate(rows, str(work)), str(work), baseline_rows, sink, parquet, profile_rows)
        result["load_average"] = {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in os.getloadavg()],
        }
        return result
    finally:
        if own_dir and not keep_files:
            shutil.rmtree(work, ignore_errors=True)


def _generate(rows: int, work: str) -> dict[str, Any]:
    from .synth import write_population_csv

    manifest = write_population_csv(Path(work) / "population.csv", rows, today=dt.date.today())
    return {"manifest": manifest, "peak_rss_mb": _peak_rss_mb()}


class _RssSampler(threading.Thread):
    """Resident set size every ``interval`` seconds (from /proc; ru_maxrss where that is missing)."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval = interval
        self.samples: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(_rss_mb())
            self._halt.wait(self.interval)

    def stop(self) -> dict[str, Any]:
        self._halt.set()
        self.join()
        self.samples.append(_rss_mb())
        s = self.samples
        return {"peak_mb": round(max(s)), "start_mb": round(s[0]), "end_mb": round(s[-1]), "samples": len(s)}


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_rss_mb()


def _sinks(
    kind: str,
    work_dir: Path,
    parquet: dict[str, Any] | None = None,
    zones: tuple[str, ...] = ("raw", "clean", "share", "quarantine"),
):
    """A fresh lake in ``work_dir`` and a ``LakeLoad``'s sinks into it for ``zones``, encoded as a
    load encodes them (``parquet`` overrides every zone); or plain Parquet files."""
    if kind == "parquet":
        from yiwang.governance.engine.sinks import parquet_sinks

        return None, parquet_sinks(work_dir / "zones"), None
    from yiwang.core.lake import Lake
    from yiwang.core.lake.parquet import ParquetOptions
    from yiwang.governance.lake_sinks import LakeLoad

    options = ParquetOptions(**parquet) if parquet else None
    work_dir.mkdir(parents=True, exist_ok=True)
    lake = Lake(f"sqlite:///{work_dir / 'catalog.db'}", str(work_dir / "lake"), parquet=options)
    if options:
        load = LakeLoad(lake, "population", zones=zones, parquet=options)
    else:
        load = LakeLoad(lake, "population", zones=zones)
    return lake, load.sinks(), load


def _zone_sizes(lake_dir: Path) -> dict[str, int]:
    """Bytes of Parquet data files per zone folder."""
    return {
        zone: sum(f.stat().st_size for f in (lake_dir / zone).rglob("*.parquet"))
        for zone in ("raw", "clean", "share", "quarantine")
        if (lake_dir / zone).exists()
    }


def _measure(
    generated: dict[str, Any],
    work: str,
    baseline_rows: int,
    sink: str = "lake",
    parquet: dict[str, Any] | None = None,
    profile_rows: int = 500_000,
) -> dict[str, Any]:
    from yiwang.governance.engine import kernels
    from yiwang.governance.engine.pipeline import run

    from .synth import EXPECTED_RULE, population_rules

    manifest = generated["manifest"]
    rows = manifest.rows
    work_dir = Path(work)
    today = dt.date.today()
    source = manifest.path
    rules = population_rules()
    warm = warm_up()
    lake, sinks, load = _sinks(sink, work_dir, parquet)
    sampler = _RssSampler()
    _flush_page_cache()
    sampler.start()
    started_cpu = time.process_time()
    summary = run(source, rules, sinks, keys={"population": KEY}, today=today)
    cpu = time.process_time() - started_cpu
    rss = sampler.stop()
    if lake is not None:
        quarantine = lake.read("quarantine.population", columns=["_line", "_failures"])
        tables = {z: lake.read(f"{z}.population", columns=["_line"]).num_rows for z in ("raw", "clean", "share")}
        sizes = _zone_sizes(work_dir / "lake")
        lake.close()
    else:
        import pyarrow.parquet as pq

        quarantine = pq.read_table(work_dir / "zones" / "quarantine.parquet", columns=["_line", "_failures"])
        sizes = {
            z: (work_dir / "zones" / f"{z}.parquet").stat().st_size for z in ("raw", "clean", "share", "quarantine")
        }
        tables = {z: pq.read_metadata(work_dir / "zones" / f"{z}.parquet").num_rows for z in ("raw", "clean", "share")}
    quarantine_check = _check_quarantine(quarantine, manifest, EXPECTED_RULE)
    cpu_stages = {k: round(v / rows * 1e6, 3) for k, v in summary.cpu_seconds.items()}
    out: dict[str, Any] = {
        "rows": rows,
        "file_bytes": source.stat().st_size,
        "encoding": "gb18030",
        "cores": os.cpu_count(),
        "sink": "lake (LakeLoad: raw, clean, share, quarantine Iceberg tables, one atomic commit)"
        if sink == "lake"
        else "parquet files",
        "lake_parquet_options": parquet
        or (
            "LakeLoad's: raw, clean, share uncompressed (dictionary on repetitive "
            "columns); quarantine the lake defaults (zstd-1)"
        ),
        "generator_seconds": round(manifest.seconds, 3),
        "generator_rows_per_second": round(rows / manifest.seconds),
        "generator_peak_rss_mb": round(generated["peak_rss_mb"]),
        "end_to_end_seconds": round(summary.wall_seconds, 3),
        "end_to_end_rows_per_second": round(summary.rows_per_second),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_row": round(cpu / rows * 1e6, 3),
        "cpu_us_per_row_by_stage": cpu_stages,
        "rows_per_second_if_2_idle_cores": round(rows / max(cpu / min(2, os.cpu_count() or 1), 1e-9)),
        "stage_seconds": {k: round(v, 3) for k, v in summary.timings.items()},
        "rows_read": summary.rows_read,
        "rows_accepted": summary.rows_accepted,
        "rows_quarantined": summary.rows_quarantined,
        "zone_rows": {**tables, "quarantine": quarantine.num_rows},
        "zone_file_mb": {z: round(b / 2**20, 1) for z, b in sizes.items()},
        "quarantine_by_rule": summary.quarantine_by_rule,
        "injected_bad_rows": len(manifest.bad),
        "quarantine_matches_manifest": quarantine_check,
        "quality_overall": summary.quality.get("overall"),
        "peak_rss_mb": rss["peak_mb"],
        "rss_mb": {**rss, "os_high_water_mb": round(_peak_rss_mb())},
        "kernels": {"enabled": kernels.enabled(), **warm},
    }
    if load is not None and load.result is not None:
        out["lake_load_seconds"] = round(load.result.seconds, 3)
    if sink == "lake":
        _flush_page_cache()
        floor = out["io_floor"] = io_floor(source, work_dir / "floor", parquet=parquet)
        out["end_to_end_vs_io_floor"] = round(summary.rows_per_second / floor["rows_per_second"], 3)
    if profile_rows:
        out["stage_profile"] = stage_profile(
            source, work_dir / "profile", rows=min(profile_rows, rows), today=today, parquet=parquet
        )
    if baseline_rows:
        out["baseline"] = baseline(source, baseline_rows, today=today)
        sample_rate = out["baseline"]["rows_per_second"]
        out["speedup_vs_baseline"] = round(summary.rows_per_second / sample_rate, 1) if sample_rate else None
        out["speedup_note"] = (
            "engine end to end (decode, govern, write four lake tables) vs the baseline's "
            "validation and masking alone, in memory, on the first rows of the same file"
        )
    return out


def _flush_page_cache() -> None:
    """Write out what earlier steps left in the page cache (the generated file, the load's zones)
    before a timed step, so that step does not pay for flushing them to disk: the disk here
    takes ~250 MB/s, and once dirty pages pass the kernel's threshold every writer waits."""
    os.sync()


def warm_up() -> dict[str, Any]:
    """Load the compiled kernels — compiling them, on a machine that has no cache yet — before
    the timed load; returns the seconds that took and numba's cache hits and misses."""
    from yiwang.governance.engine import kernels

    from .warmup import warm_up as load_kernels

    seconds = load_kernels()
    stats = kernels.cache_stats()
    return {"warmup_seconds": round(seconds, 3), "compiled_now": stats["cache_misses"] > 0, **stats}


def io_floor(source: Path, work_dir: Path, *, parquet: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read and decode ``source`` and write its batches unchanged to the raw, clean and share
    tables of a fresh lake (``LakeLoad``, the same Parquet options as the load), no governance:
    the reader, the lake's writer threads and one commit, as in the load. What a governed load
    cannot beat here, whatever its kernels cost."""
    from yiwang.governance.engine.sources import open_source

    from .synth import population_rules

    rules = population_rules()
    lake, sinks, _ = _sinks("lake", work_dir, parquet)
    zones = [sinks.raw, sinks.clean, sinks.share]
    src = open_source(source, expected_columns=rules.column_names, unknown_columns=rules.unknown_columns)
    rows = 0
    started, cpu = time.perf_counter(), time.process_time()
    try:
        for batch in src.batches():
            rows += batch.num_rows
            for zone in zones:
                zone.write(batch)
    except BaseException:
        sinks.raw.abort()
        raise
    else:
        for zone in (*zones, sinks.quarantine):  # the last close commits
            zone.close()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        written = {z: lake.read(f"{z}.population", columns=["_line"]).num_rows for z in ("raw", "clean", "share")}
    finally:
        lake.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    return {
        "rows": rows,
        "zone_rows": written,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds) if seconds else None,
        "cpu_us_per_row": round(cpu / rows * 1e6, 3) if rows else None,
    }


def stage_profile(
    source: Path,
    work_dir: Path,
    *,
    rows: int = 500_000,
    today: dt.date | None = None,
    parquet: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """CPU per row of each stage, run one after the other on the first ``rows`` rows of ``source``.

    Process CPU time around each stage, nothing else running in between, so work a stage hands
    to helper threads (Polars' pool, Arrow's, the lake's writer threads) is counted in it —
    the pipeline's own per-thread figures cannot attribute that. A first pass times the
    engine's stages streaming (outputs dropped); a second keeps the outputs and writes each
    zone to a fresh lake on its own (``write_<zone>``).
    """
    from yiwang.governance.engine.governor import Governor
    from yiwang.governance.engine.masking import KAnonymityCounter
    from yiwang.governance.engine.sources import open_source

    from .synth import population_rules

    work_dir.mkdir(parents=True, exist_ok=True)
    rules = population_rules()
    qi = rules.quasi_identifiers

    def stream(timed: bool):
        """Govern the first ``rows`` rows; yields (raw, clean, share, quarantine) per batch."""
        governor = Governor(rules, keys={"population": KEY}, today=today or dt.date.today())
        counter = KAnonymityCounter(qi)
        source_ = open_source(source, expected_columns=rules.column_names, unknown_columns=rules.unknown_columns)
        batches = iter(source_.batches())
        done = 0
        clock = time.process_time if timed else time.perf_counter
        try:
            while done < rows:
                started = time.process_time()
                batch = next(batches, None)
                if timed:
                    cpu["read"] = cpu.get("read", 0.0) + time.process_time() - started
                if batch is None:
                    break
                result = governor.process(batch, mask=False, clock=clock)
                clean_rows = result.deferred()
                assert clean_rows is not None  # Governor.process always keeps the accepted rows
                started = time.process_time()
                share = governor.mask(clean_rows)
                middle = time.process_time()
                counter.add(share.select(qi))
                if timed:
                    for stage, seconds in result.timings.items():
                        if stage != "mask":
                            cpu[stage] = cpu.get(stage, 0.0) + seconds
                    cpu["mask"] = cpu.get("mask", 0.0) + middle - started
                    cpu["k_anonymity"] = cpu.get("k_anonymity", 0.0) + time.process_time() - middle
                done += batch.num_rows
                yield batch, result.clean, share, result.quarantine
        finally:
            close = getattr(batches, "close", None)
            if close:
                close()
            governor.close()

    # pass 1: the engine's stages, streaming (outputs dropped, as the pipeline recycles them)
    cpu: dict[str, float] = {}
    done = sum(out[0].num_rows for out in stream(True))
    # pass 2: the same outputs kept, then each zone written to a fresh lake on its own
    zones: dict[str, list] = {"raw": [], "clean": [], "share": [], "quarantine": []}
    for out in stream(False):
        for zone, part in zip(zones, out):
            zones[zone].append(part)
    for zone, parts in zones.items():
        lake, sinks, _ = _sinks("lake", work_dir / f"lake-{zone}", parquet, zones=(zone,))
        sink = getattr(sinks, zone)
        started = time.process_time()
        for part in parts:
            sink.write(part)
        sink.close()  # commits
        cpu[f"write_{zone}"] = time.process_time() - started
        lake.close()
        zones[zone] = []
    shutil.rmtree(work_dir, ignore_errors=True)
    per_row = {k: round(v / done * 1e6, 3) for k, v in cpu.items()}
    engine = sum(v for k, v in per_row.items() if not k.startswith("write_"))
    writes = sum(v for k, v in per_row.items() if k.startswith("write_"))
    return {
        "rows": done,
        "cpu_us_per_row": per_row,
        "engine_us_per_row": round(engine, 3),
        "lake_writes_us_per_row": round(writes, 3),
        "total_us_per_row": round(engine + writes, 3),
        "rows_per_second_if_2_idle_cores": round(2e6 / (engine + writes)) if engine + writes else None,
    }


def _check_quarantine(table, manifest, expected_rule: dict[str, str]) -> dict[str, Any]:
    lines = table.column("_line").to_numpy()
    injected = set(manifest.bad)
    got = set(lines.tolist())
    failures = table.column("_failures").to_pylist()
    wrong_rule = sum(
        1
        for line, fails in zip(lines.tolist(), failures)
        if line in manifest.bad and expected_rule[manifest.bad[line]] not in {f["rule"] for f in fails}
    )
    return {
        "exact": got == injected and len(lines) == len(got),
        "unexpected": len(got - injected),
        "missed": len(injected - got),
        "wrong_rule": wrong_rule,
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(source: Path, rows: int, *, today: dt.date) -> dict[str, Any]:
    """The same checks and masks written the usual way: pandera element-wise checks plus
    pandas row-wise normalisation and masks (see ``baseline_rowwise``). presidio-structured is
    not used: its analyzer needs spaCy models downloaded from GitHub, which this machine cannot
    reach.
    """
    import pandas as pd

    from .baseline_rowwise import govern_rows

    frame = pd.read_csv(source, encoding="gb18030", dtype=str, nrows=rows, keep_default_na=False)
    started, cpu = time.perf_counter(), time.process_time()
    accepted, quarantined = govern_rows(frame, today=today, key=KEY)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "engine": "pandera element-wise + pandas row loop",
        "rows": len(frame),
        "seconds": round(seconds, 3),
        "rows_per_second": round(len(frame) / seconds) if seconds else None,
        "cpu_us_per_row": round(cpu / len(frame) * 1e6, 3) if len(frame) else None,
        "accepted": accepted,
        "quarantined": quarantined,
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="governance engine benchmark")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--sink", choices=("lake", "parquet"), default="lake")
    parser.add_argument("--compression", help="override the lake's Parquet compression (e.g. lz4, none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    parquet = {"compression": args.compression, "compression_level": None} if args.compression else None
    result = benchmark(args.rows, baseline_rows=args.baseline_rows, sink=args.sink, parquet=parquet)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
