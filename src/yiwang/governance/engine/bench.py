"""Engine benchmark: synthetic GB18030 population → run() → Parquet raw/clean/share/quarantine.

``benchmark(rows=N)`` returns a JSON-ready dict (``yiwang bench governance --rows N --json``):
generator speed, end-to-end rows/s, seconds per stage, peak RSS, whether the quarantine holds
exactly the injected bad rows, and a row-at-a-time pandas baseline on a sample for the ratio.
Peak RSS is measured in a fresh child process so each size gets its own number.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

KEY = b"benchmark-key-16"


def benchmark(rows: int = 2_700_000, *, workdir: str | Path | None = None, baseline_rows: int = 100_000,
              isolate: bool = True, keep_files: bool = False) -> dict[str, Any]:
    """Generate ``rows`` people, govern them end to end, and compare with a row-loop baseline.

    With ``isolate`` the generator and the load each run in a fresh child process, so the load's
    peak RSS is its own.
    """
    own_dir = workdir is None
    work = Path(workdir or tempfile.mkdtemp(prefix="yiwang-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if isolate:
            ctx = mp.get_context("spawn")
            with ctx.Pool(1, maxtasksperchild=1) as pool:
                generated = pool.apply(_generate, (rows, str(work)))
            with ctx.Pool(1, maxtasksperchild=1) as pool:
                result = pool.apply(_measure, (generated, str(work), baseline_rows))
        else:
            result = _measure(_generate(rows, str(work)), str(work), baseline_rows)
        return result
    finally:
        if own_dir and not keep_files:
            shutil.rmtree(work, ignore_errors=True)


def _generate(rows: int, work: str) -> dict[str, Any]:
    from .synth import write_population_csv

    manifest = write_population_csv(Path(work) / "population.csv", rows, today=dt.date.today())
    return {"manifest": manifest, "peak_rss_mb": _peak_rss_mb()}


def _measure(generated: dict[str, Any], work: str, baseline_rows: int) -> dict[str, Any]:
    from .pipeline import run
    from .sinks import parquet_sinks
    from .synth import EXPECTED_RULE, population_rules

    manifest = generated["manifest"]
    rows = manifest.rows
    work_dir = Path(work)
    today = dt.date.today()
    source = manifest.path
    rules = population_rules()
    started_cpu = time.process_time()
    summary = run(source, rules, parquet_sinks(work_dir / "zones"), keys={"population": KEY}, today=today)
    cpu = time.process_time() - started_cpu
    peak = _peak_rss_mb()
    quarantine_check = _check_quarantine(work_dir / "zones" / "quarantine.parquet", manifest, EXPECTED_RULE)
    out: dict[str, Any] = {
        "rows": rows,
        "file_bytes": source.stat().st_size,
        "encoding": "gb18030",
        "cores": os.cpu_count(),
        "generator_seconds": round(manifest.seconds, 3),
        "generator_rows_per_second": round(rows / manifest.seconds),
        "generator_peak_rss_mb": round(generated["peak_rss_mb"]),
        "end_to_end_seconds": round(summary.wall_seconds, 3),
        "end_to_end_rows_per_second": round(summary.rows_per_second),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_row": round(cpu / rows * 1e6, 3),
        "stage_seconds": {k: round(v, 3) for k, v in summary.timings.items()},
        "stage_rows_per_second": {k: round(rows / v) for k, v in summary.timings.items() if v > 0},
        "rows_read": summary.rows_read,
        "rows_accepted": summary.rows_accepted,
        "rows_quarantined": summary.rows_quarantined,
        "quarantine_by_rule": summary.quarantine_by_rule,
        "injected_bad_rows": len(manifest.bad),
        "quarantine_matches_manifest": quarantine_check,
        "quality_overall": summary.quality.get("overall"),
        "peak_rss_mb": round(peak),
        "load_average": os.getloadavg(),
    }
    if baseline_rows:
        out["baseline"] = baseline(source, baseline_rows, today=today)
        sample_rate = out["baseline"]["rows_per_second"]
        out["speedup_vs_baseline"] = round(summary.rows_per_second / sample_rate, 1) if sample_rate else None
    return out


def _check_quarantine(path: Path, manifest, expected_rule: dict[str, str]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["_line", "_failures"])
    lines = table.column("_line").to_numpy()
    injected = set(manifest.bad)
    got = set(lines.tolist())
    failures = table.column("_failures").to_pylist()
    wrong_rule = sum(
        1 for line, fails in zip(lines.tolist(), failures)
        if line in manifest.bad and expected_rule[manifest.bad[line]] not in {f["rule"] for f in fails}
    )
    return {"exact": got == injected, "unexpected": len(got - injected), "missed": len(injected - got),
            "wrong_rule": wrong_rule}


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
    started = time.perf_counter()
    accepted, quarantined = govern_rows(frame, today=today, key=KEY)
    seconds = time.perf_counter() - started
    return {"engine": "pandera element-wise + pandas row loop", "rows": len(frame), "seconds": round(seconds, 3),
            "rows_per_second": round(len(frame) / seconds) if seconds else None,
            "accepted": accepted, "quarantined": quarantined}


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="governance engine benchmark")
    parser.add_argument("--rows", type=int, default=2_700_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = benchmark(args.rows, baseline_rows=args.baseline_rows)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
