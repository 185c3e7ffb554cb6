"""Benchmark, synthetic data and baseline of the governance engine — not part of the engine.

* ``run``: ``yiwang bench governance [--rows N] [--json]`` (``run.cli_run``), registered in
  ``yiwang.cli.BENCHES``; a synthetic population governed end to end into the lake, beside an
  I/O floor and a row-loop baseline measured in the same run.
* ``synth``: the synthetic Kunshan population (GB18030) with a manifest of injected bad rows,
  and its rules (``population_rules``); also used by the demo and by tests.
* ``baseline_rowwise``: the pandera / pandas row-loop baseline the benchmark compares with.
* ``warmup``: loads (or compiles) every numba kernel before a timed load.
"""
