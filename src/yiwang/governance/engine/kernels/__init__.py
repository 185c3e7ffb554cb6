"""Compiled kernels (numba) for the engine's hot path: decode+split, normalise+validate, masks,
HMAC-SM3, uniqueness. Each is the engine's one runtime implementation of what it does; the
tests check it against a plain oracle (``tests/governance/engine/engine_oracle.py``).

They compile once per machine (the cache then lives in ``__pycache__``) and load from the cache in
every process; ``yiwang.governance.bench.warmup.warm_up()`` does either ahead of a timed load, and
the benchmarks report both costs."""

from __future__ import annotations

from ._jit import cache_stats, enabled

__all__ = ["cache_stats", "enabled"]
