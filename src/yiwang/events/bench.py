"""``yiwang bench events``: intake throughput and latency, loss/duplication check, triage speed
and accuracy — with the bare endpoint measured in the same run as the baseline.

1. A fresh installation (SQLite under a temporary home, or ``YIWANG_BENCH_DATABASE_URL``) is
   migrated and seeded without history; an API key is issued.
2. ``yiwang up --workers N`` serves it on loopback (``YIWANG_BENCH_WORKERS``, default 2).
3. ``yiwang.events.loadgen`` runs as a separate process: the bare endpoint (closed loop),
   the real intake (closed loop: highest rate), then the real intake at a fixed rate of
   1,000 requests/s (open loop: the p99 that matters). Open311 form posts and JSON machine
   intake are mixed; 1 % of requests are retried with their idempotency key.
4. After each intake run the database is checked: every 201/200 id exists, the number of
   cases of the run equals the number of distinct ids answered, and no id repeats; then the
   run waits for the background triage to catch up (its time is reported), so that each run
   starts without a backlog, and checks that every case's acceptance is in the audit ledger.
5. The triage classifier: texts/s on one core, held-out accuracy, hand-written-set accuracy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TARGET_RATE = 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path, url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env.update(
        YIWANG_HOME=str(home),
        YIWANG_LOG_LEVEL="WARNING",
        YIWANG_EVENTS_HISTORY_CASES="0",
        YIWANG_EVENTS_BENCH_ROUTES="true",
        YIWANG_EVENTS_TRIAGE_SECONDS="0.5",
    )
    if url:
        env["YIWANG_DATABASE_URL"] = url
    return env


def _loadgen(url: str, key: str, *, n: int, mode: str, concurrency: int, rate: float, out: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "yiwang.events.loadgen",
        "--url",
        url,
        "--key",
        key,
        "--n",
        str(n),
        "--mode",
        mode,
        "--concurrency",
        str(concurrency),
        "--rate",
        str(rate),
        "--out",
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"load generator failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _check(env: dict, out: Path) -> dict:
    """Loss and duplication: compare the ids answered with the cases stored."""
    data = json.loads(out.read_text())
    answered = set(data["ids"].values())
    code = (
        "import json,sys\n"
        "from sqlalchemy import select, func\n"
        "from yiwang.core.commands import session_factory\n"
        "from yiwang.events.models import Case\n"
        "from yiwang.events.queries import number\n"
        "run=sys.argv[1]\n"
        "with session_factory()() as s:\n"
        "    rows=s.execute(select(Case).where(Case.idem_key.like(f'%:{run}-%'))).scalars().all()\n"
        "    print(json.dumps({'stored':len(rows),'numbers':[number(c) for c in rows],"
        "'keys':len({c.idem_key for c in rows})}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, data["run"]], env=env, capture_output=True, text=True, timeout=300)
    stored = json.loads(r.stdout.strip().splitlines()[-1])
    numbers = stored["numbers"]
    return {
        "answered_ids": len(answered),
        "stored_cases": stored["stored"],
        "missing": len(answered - set(numbers)),
        "duplicates": len(numbers) - len(set(numbers)),
        "unanswered_stored": len(set(numbers) - answered),
    }


def _drain(env: dict, limit: float = 180) -> float:
    """Wait until the background triage has caught up; returns the seconds it took."""
    started = time.perf_counter()
    code = (
        "from sqlalchemy import select,func\nfrom yiwang.core.commands import session_factory\n"
        "from yiwang.events.models import Case\n"
        "s=session_factory()()\nprint(s.execute(select(func.count()).select_from(Case)"
        ".where(Case.triage_status=='pending')).scalar())"
    )
    while time.perf_counter() - started < limit:
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        if int((r.stdout.strip() or "0").splitlines()[-1]) == 0:
            break
        time.sleep(1)
    return round(time.perf_counter() - started, 1)


def _audited(env: dict) -> bool:
    """Every accepted case has its acceptance in the audit ledger (written by the triage step)."""
    code = (
        "from sqlalchemy import select,func\nfrom yiwang.core.commands import session_factory\n"
        "from yiwang.core.audit import AuditEntry\nfrom yiwang.events.models import Case\n"
        "s=session_factory()()\n"
        "a=s.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action=='events.case.accept')).scalar()\n"
        "c=s.execute(select(func.count()).select_from(Case)).scalar()\nprint(a==c)"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return r.stdout.strip().endswith("True")


def _classifier() -> dict:
    from threadpoolctl import threadpool_limits

    from yiwang.events.triage import corpus, default_classifier
    from yiwang.events.triage_versions import evaluate

    clf = default_classifier()
    held = corpus.generate("heldout", 100)
    texts = [r.text for r in held] * 2
    with threadpool_limits(1):
        best = min(_timed(clf.predict, texts) for _ in range(3))
    metrics = evaluate(clf)
    return {
        "texts_per_second": round(len(texts) / best),
        "heldout_accuracy": metrics["heldout_accuracy"],
        "heldout_texts": metrics["heldout_texts"],
        "handwritten_accuracy": metrics["handwritten_accuracy"],
        "handwritten_texts": metrics["handwritten_texts"],
    }


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and every worker it started (its process group), even stuck ones."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break  # the whole group is gone
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            time.sleep(0.5)  # then make sure no worker outlived the parent


def _timed(fn, arg) -> float:
    t = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t


def run(rows: int | None = None, **kw) -> dict:
    n = rows or 20000
    workers = int(os.environ.get("YIWANG_BENCH_WORKERS", kw.get("workers", 2)))
    concurrency = int(os.environ.get("YIWANG_BENCH_CONCURRENCY", kw.get("concurrency", 32)))
    url = os.environ.get("YIWANG_BENCH_DATABASE_URL") or kw.get("database_url")
    home = Path(tempfile.mkdtemp(prefix="yiwang-bench-"))
    env = _env(home, url)
    result: dict = {
        "database": "postgresql" if url else "sqlite",
        "workers": workers,
        "concurrency": concurrency,
        "requests": n,
        "cpu_count": os.cpu_count(),
    }
    proc = None
    try:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "yiwang.cli", "seed"], env=env, check=True, capture_output=True, timeout=600
        )
        result["prepare_seconds"] = round(time.perf_counter() - t0, 1)
        key = subprocess.run(
            [sys.executable, "-m", "yiwang.cli", "events", "apikey", "create", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = (home / "server.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "yiwang.cli", "up", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
            start_new_session=True,
        )  # its own process group: no worker outlives the run
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        _loadgen(base, key, n=min(2000, n), mode="mixed", concurrency=concurrency, rate=0, out=home / "warm.json")
        result["triage_drain_after_warmup_s"] = _drain(env)
        bare = _loadgen(base, key, n=n, mode="bare", concurrency=concurrency, rate=0, out=home / "bare.json")
        fast = _loadgen(base, key, n=n, mode="mixed", concurrency=concurrency, rate=0, out=home / "fast.json")
        fast_check = _check(env, home / "fast.json")
        result["triage_drain_after_max_run_s"] = _drain(env)
        steady_n = max(5000, min(n, 15000))
        steady = _loadgen(
            base,
            key,
            n=steady_n,
            mode="mixed",
            concurrency=max(concurrency, 64),
            rate=TARGET_RATE,
            out=home / "steady.json",
        )
        steady_check = _check(env, home / "steady.json")
        result["triage_drain_after_steady_run_s"] = _drain(env)
        result["audit_accept_entries_equal_cases"] = _audited(env)
        result["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        result["bare"] = {k: bare[k] for k in ("per_second", "p50_ms", "p99_ms", "statuses")}
        result["intake_max"] = {
            k: fast[k] for k in ("per_second", "p50_ms", "p99_ms", "statuses", "retries", "retry_mismatches")
        } | fast_check
        result["intake_at_1000"] = {
            k: steady[k]
            for k in ("requests", "per_second", "p50_ms", "p99_ms", "max_ms", "statuses", "retries", "retry_mismatches")
        } | steady_check
        result["intake_cases_per_second"] = fast["per_second"]
        result["intake_p99_ms_at_1000_per_s"] = steady["p99_ms"]
        result["bare_per_second"] = bare["per_second"]
        result["ratio_intake_to_bare"] = round(fast["per_second"] / bare["per_second"], 3)
        ok_rate = steady["per_second"] >= TARGET_RATE * 0.98 and fast["per_second"] >= TARGET_RATE
        no_loss = all(
            c["missing"] == 0 and c["duplicates"] == 0 and c["unanswered_stored"] == 0
            for c in (fast_check, steady_check)
        )
        result["target_met"] = bool(
            ok_rate
            and (steady["p99_ms"] or 1e9) < 100
            and no_loss
            and not fast["retry_mismatches"]
            and not steady["retry_mismatches"]
        )
    except Exception:
        log_file = home / "server.log"
        if log_file.exists():
            sys.stderr.write("server log (tail):\n" + log_file.read_text(errors="replace")[-4000:])
        raise
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(home, ignore_errors=True)
    result["classifier"] = _classifier()
    result["classifier_target_met"] = (
        result["classifier"]["texts_per_second"] >= 5000 and result["classifier"]["heldout_accuracy"] >= 0.90
    )
    return result
