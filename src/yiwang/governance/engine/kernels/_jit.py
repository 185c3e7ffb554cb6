"""numba glue: one decorator for every kernel, availability, and compile/cache accounting.

Every kernel is ``@njit(cache=True, nogil=True)``: compiled once per machine (the cache sits in
``__pycache__`` beside this package, or numba's user cache when that is read-only) and run
without the GIL, so two kernels, or a kernel and a Parquet writer, use both cores.

Set ``YIWANG_ENGINE_KERNELS=0`` to run the reference (Polars/numpy) implementation instead; it
is also used automatically when numba is not installed.
"""

from __future__ import annotations

import os

try:  # numba is optional: without it the engine runs its reference implementation
    import numba as _numba
    from numba import njit as _njit
except ImportError:  # pragma: no cover - exercised only where numba is absent
    _numba = None
    _njit = None

_REGISTRY: list = []


def enabled() -> bool:
    """Compiled kernels are used: numba is importable and not switched off."""
    return _numba is not None and os.environ.get("YIWANG_ENGINE_KERNELS", "1") not in ("0", "false", "no")


def jit(fn=None, **options):
    """``@jit``: ``njit(cache=True, nogil=True)``; without numba, the plain function (never called)."""

    def wrap(f):
        if _njit is None:
            return f
        compiled = _njit(cache=True, nogil=True, **options)(f)
        _REGISTRY.append(compiled)
        return compiled

    return wrap(fn) if fn is not None else wrap


def inline(fn):
    """A small helper inlined into the kernels that call it (not cached on its own)."""
    if _njit is None:
        return fn
    return _njit(inline="always", nogil=True)(fn)


def cache_stats() -> dict[str, int]:
    """Kernels loaded from the on-disk cache vs compiled in this process."""
    hits = misses = 0
    for dispatcher in _REGISTRY:
        stats = getattr(dispatcher, "stats", None)
        if stats is None:
            continue
        hits += sum(stats.cache_hits.values())
        misses += sum(stats.cache_misses.values())
    return {"kernels": len(_REGISTRY), "cache_hits": hits, "cache_misses": misses}
