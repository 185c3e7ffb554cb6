"""The benchmark entry point returns the numbers the CLI prints (small run)."""

from __future__ import annotations

import pytest

from yiwang.governance.bench.run import benchmark


def test_small_benchmark(tmp_path):
    result = benchmark(8000, workdir=tmp_path, baseline_rows=500, isolate=False, profile_rows=3000)
    assert result["rows_read"] == 8000
    assert result["quarantine_matches_manifest"] == {"exact": True, "unexpected": 0, "missed": 0, "wrong_rule": 0}
    assert result["rows_accepted"] + result["rows_quarantined"] == 8000
    assert result["baseline"]["rows"] == 500 and result["baseline"]["quarantined"] >= 1
    assert result["end_to_end_rows_per_second"] > 0 and result["peak_rss_mb"] > 0
    assert result["speedup_vs_baseline"] > 1
    profile = result["stage_profile"]
    assert profile["rows"] >= 3000 and {"read", "normalise", "validate", "mask", "write_raw"} <= set(
        profile["cpu_us_per_row"]
    )
    assert result["zone_rows"]["raw"] == 8000 and result["kernels"]["warmup_seconds"] >= 0
    sizes = result["zone_file_mb"]
    assert set(sizes) == {"raw", "clean", "share", "quarantine"} and sizes["raw"] > sizes["share"] > 0
    floor = result["io_floor"]  # the same file, ungoverned, to three zones of a fresh lake
    assert floor["zone_rows"] == {"raw": 8000, "clean": 8000, "share": 8000}
    assert floor["rows_per_second"] > 0 and floor["cpu_us_per_row"] > 0
    ratio = result["end_to_end_rows_per_second"] / floor["rows_per_second"]
    assert result["end_to_end_vs_io_floor"] == pytest.approx(ratio, abs=2e-3)
    assert not (tmp_path / "floor").exists()


def test_bench_is_registered_with_the_cli():
    from yiwang.cli import BENCHES

    assert BENCHES["governance"] == "yiwang.governance.bench.run:cli_run"
