"""numba glue: one decorator for every kernel, availability, and compile/cache accounting.

Every kernel is ``@njit(cache=True, nogil=True)``: compiled once per machine (the cache sits in
``__pycache__`` beside this package, or numba's user cache when that is read-only) and run
without the GIL, so two kernels, or a kernel and a Parquet writer, use both cores.

numba is a required dependency: the kernels are the engine's one runtime implementation.
"""

from __future__ import annotations

from numba import njit as _njit

_REGISTRY: list = []


def enabled() -> bool:
    """The compiled kernels load (always, once this module imported: numba is required)."""
    return True


def jit(fn=None, **options):
    """``@jit``: ``njit(cache=True, nogil=True)``."""

    def wrap(f):
        compiled = _njit(cache=True, nogil=True, **options)(f)
        _REGISTRY.append(compiled)
        return compiled

    return wrap(fn) if fn is not None else wrap


def inline(fn):
    """A small helper inlined into the kernels that call it (not cached on its own)."""
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
