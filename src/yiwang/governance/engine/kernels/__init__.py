"""Compiled kernels (numba) for the engine's hot path: decode+split, normalise+validate, masks,
HMAC-SM3, uniqueness. Each is the engine's one runtime implementation of what it does; the
tests check it against a plain oracle (``tests/governance/engine/oracle.py``).

Compiling them all takes ~20-70 s once per machine (the cache then lives in ``__pycache__``);
loading them from the cache ~0.7 s per process. ``yiwang.governance.bench.warmup.warm_up()``
does either ahead of a timed load."""

from __future__ import annotations

from ._jit import cache_stats, enabled

__all__ = ["cache_stats", "enabled"]
