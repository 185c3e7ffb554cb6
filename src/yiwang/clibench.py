"""``yiwang bench cli [--rows N] [--json]``: does the command line answer at once?

Measured in one run, on a fresh installation in a temporary folder (SQLite, the Kunshan
reference city without the event centre's parts, which no command here needs):

* ``yiwang --help`` and one small command (``yiwang db current``): wall time of the whole
  process, started as a user starts it (``python -m yiwang.cli``), median of ``REPEATS`` runs;
  the target is under 1 s each;
* ``yiwang ingest population FILE --mode replace --json`` of a generated N-row population file
  (GB18030, ``governance.bench.synth``), wall time of the whole process; beside it **the same
  load in-process**, as ``yiwang bench governance`` times it: a fresh process that has imported
  the engine and loaded its kernels (``governance.bench.warmup``) runs the pipeline
  (``engine.run``) with the catalog's rules for ``population`` as ``ingest`` applies them
  (``service.engine_rules``, the load-id column, replace mode) into the four tables of a fresh
  lake, and only that run is timed. The target: the command no more than 1 s slower.

Dirty pages are written out (``sync``) before each timed load, as the governance benchmark does.
The machine's load average at start and end and the CPU seconds of each side say how much the
machine was shared: on a busy machine wall times say more about the neighbours than about yiwang,
and ``overhead_cpu_seconds`` (the command's CPU minus the in-process load's) is the steadier figure.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_ROWS = 200_000
REPEATS = 5
TARGET_SMALL_SECONDS = 1.0
TARGET_INGEST_OVERHEAD_SECONDS = 1.0
RESOURCE = "population"


def run(rows: int | None = None, *, keep_files: bool = False) -> dict[str, Any]:
    """Entry point of ``yiwang bench cli``; returns one JSON-ready dict."""
    rows = rows or DEFAULT_ROWS
    work = Path(tempfile.mkdtemp(prefix="yiwang-clibench-"))
    env = {
        **os.environ,
        "YIWANG_HOME": str(work / "home"),
        "YIWANG_DATABASE_URL": f"sqlite:///{work / 'yiwang.db'}",
        "YIWANG_PROFILE": "demo",
        "YIWANG_LOG_LEVEL": "WARNING",
        "YIWANG_GOVERNANCE_BACKGROUND": "false",
    }
    env.pop("YIWANG_LAKE_URI", None)
    load_start = os.getloadavg()
    ctx = mp.get_context("spawn")
    try:
        started = time.perf_counter()
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            pool.apply(_install, (env,))
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            generated = pool.apply(_generate, (str(work / "population.csv"), rows))
        setup_seconds = time.perf_counter() - started

        help_run = _timed_runs([*YIWANG, "--help"], env, expect="ingest")
        small_run = _timed_runs([*YIWANG, "db", "current"], env)

        floor = _timed_runs(FLOOR, env)
        os.sync()
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            inproc = pool.apply(_in_process, (env, generated["path"], str(work / "inproc")))
        os.sync()
        cli = _timed([*YIWANG, "ingest", RESOURCE, generated["path"], "--mode", "replace", "--json"], env, timeout=3600)
        summary = json.loads(cli.pop("stdout"))
        if summary.get("rows_read") != rows:
            raise RuntimeError(f"yiwang ingest read {summary.get('rows_read')} rows, not {rows}: {summary}")
        if (summary["rows_accepted"], summary["rows_quarantined"]) != (
            inproc["rows_accepted"],
            inproc["rows_quarantined"],
        ):
            raise RuntimeError(f"the two loads differ: command {summary}, in-process {inproc}")
        overhead = cli["seconds"] - inproc["seconds"]
        return {
            "rows": rows,
            "file_mb": round(generated["bytes"] / 2**20, 1),
            "cores": os.cpu_count(),
            "setup_seconds": round(setup_seconds, 3),
            "help": help_run,
            "small_command": {"command": "yiwang db current", **small_run},
            "ingest": {
                "command_seconds": cli["seconds"],
                "command_cpu_seconds": cli["cpu_seconds"],
                "command_load_seconds": summary["seconds"],
                "in_process_seconds": inproc["seconds"],
                "in_process_cpu_seconds": inproc["cpu_seconds"],
                "in_process_kernel_warmup_seconds": inproc["warmup_seconds"],
                "overhead_seconds": round(overhead, 3),
                "overhead_cpu_seconds": round(cli["cpu_seconds"] - inproc["cpu_seconds"], 3),
                # a process that only imports the libraries any load needs: an overhead no command can avoid
                "library_import_floor_seconds": floor["median_seconds"],
                "library_import_floor_cpu_seconds": floor["median_cpu_seconds"],
                "overhead_beyond_floor_seconds": round(overhead - floor["median_seconds"], 3),
                "rows_accepted": summary["rows_accepted"],
                "rows_quarantined": summary["rows_quarantined"],
            },
            "targets": {
                "help_under_seconds": TARGET_SMALL_SECONDS,
                "small_command_under_seconds": TARGET_SMALL_SECONDS,
                "ingest_overhead_at_most_seconds": TARGET_INGEST_OVERHEAD_SECONDS,
            },
            "pass": {
                "help": help_run["median_seconds"] < TARGET_SMALL_SECONDS,
                "small_command": small_run["median_seconds"] < TARGET_SMALL_SECONDS,
                "ingest": overhead <= TARGET_INGEST_OVERHEAD_SECONDS,
            },
            "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        }
    finally:
        if not keep_files:
            shutil.rmtree(work, ignore_errors=True)


def _timed(argv: list[str], env: dict[str, str], *, timeout: float = 120) -> dict[str, Any]:
    """One process: wall seconds, CPU seconds (user + system), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} exited {proc.returncode}: {proc.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "stdout": proc.stdout}


YIWANG = [sys.executable, "-m", "yiwang.cli"]
# a bare interpreter importing what every load needs: an overhead no command can avoid
FLOOR = [
    sys.executable,
    "-c",
    "import polars, pyarrow.dataset, pyiceberg.table, pyiceberg.io.pyarrow, numba, sqlalchemy.orm",
]


def _timed_runs(argv: list[str], env: dict[str, str], *, expect: str | None = None) -> dict[str, Any]:
    runs = [_timed(argv, env) for _ in range(REPEATS)]
    if expect is not None and expect not in runs[0]["stdout"]:
        raise RuntimeError(f"{' '.join(argv[2:])} did not print {expect!r}")
    walls = [r["seconds"] for r in runs]
    return {
        "median_seconds": round(statistics.median(walls), 3),
        "min_seconds": min(walls),
        "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 3),
        "runs": len(runs),
    }


def _settings(env: dict[str, str]):
    from yiwang.core.config import Settings

    return Settings(
        home=env["YIWANG_HOME"], database_url=env["YIWANG_DATABASE_URL"], profile="demo", log_level="WARNING"
    )


def _install(env: dict[str, str]) -> None:
    """Migrate and seed a fresh installation, without the event centre's parts (a child process)."""
    import yiwang.governance  # noqa: F401  (the catalog checks the entries' rules with it)
    from yiwang.core import crypto
    from yiwang.core.db import make_engine, make_sessionmaker, upgrade
    from yiwang.core.logs import configure_logging
    from yiwang.reference import kunshan

    settings = _settings(env)
    configure_logging(settings.log_level, settings.log_format)
    settings.home_path.mkdir(parents=True, exist_ok=True)
    crypto.configure_column_key(settings.data_key_bytes)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    kunshan.PARTS[:] = [p for p in kunshan.PARTS if not p[0].startswith("events")]
    with make_sessionmaker(engine)() as session:
        kunshan.seed(session, settings)
    engine.dispose()


def _generate(path: str, rows: int) -> dict[str, Any]:
    from yiwang.governance.bench.synth import write_population_csv

    manifest = write_population_csv(path, rows, today=dt.date.today())
    return {"path": str(manifest.path), "bytes": Path(manifest.path).stat().st_size}


def _in_process(env: dict[str, str], path: str, work: str) -> dict[str, Any]:
    """The same load as ``yiwang ingest`` makes, through the engine's pipeline into a fresh lake,
    timed as ``yiwang bench governance`` times it (imports and kernel loading before the clock)."""
    from yiwang import catalog
    from yiwang.core.db import make_engine, make_sessionmaker
    from yiwang.core.lake import Lake
    from yiwang.governance import keys, service
    from yiwang.governance.bench.warmup import warm_up
    from yiwang.governance.engine import ResourceRules, Sinks, run
    from yiwang.governance.lake_sinks import LakeLoad
    from yiwang.governance.settings import get_governance_settings

    settings = _settings(env)
    engine = make_engine(settings.db_url)
    with make_sessionmaker(engine)() as session:
        rules = ResourceRules.from_dict(catalog.resource_rules(session, RESOURCE).rules)
    engine.dispose()
    warmup_seconds = warm_up()
    Path(work).mkdir(parents=True, exist_ok=True)
    lake = Lake(f"sqlite:///{Path(work) / 'catalog.db'}", str(Path(work) / "lake"))
    load_id = "clibench"
    load = LakeLoad(lake, RESOURCE, modes=service.targets("replace", rules), load_id=load_id)
    zones = load.sinks()
    sinks = Sinks(**{z: service._Tagged(getattr(zones, z), load_id) for z in ("raw", "clean", "share", "quarantine")})
    started, cpu = time.perf_counter(), time.process_time()
    options = {"max_bytes": get_governance_settings().max_file_mb << 20, **service.reader_options(path, {})}
    summary = run(path, service.engine_rules(rules), sinks, keys=keys.keys_for(settings, rules), source_options=options)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if load.result is None:
        raise RuntimeError("the in-process lake load did not commit")
    lake.close()
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "warmup_seconds": round(warmup_seconds, 3),
        "rows_read": summary.rows_read,
        "rows_accepted": summary.rows_accepted,
        "rows_quarantined": summary.rows_quarantined,
    }
