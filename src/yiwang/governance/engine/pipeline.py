"""``run(source, rules, sinks)``: one governed load, streamed through a small thread pipeline.

reader thread ──▶ governor (this thread) ──▶ one writer thread per sink (the share writer masks)

Decoding and parsing, normalising, validating and masking are compiled kernels (or, without
numba, C iconv, Arrow, Polars and numpy), and Parquet encoding is C++: all release the GIL, so
the stages overlap on both cores. Queues are bounded (the reader runs ``queue_depth`` batches
ahead, each writer holds one), so a few batches are in memory whatever the file size.
``LoadSummary.cpu_seconds`` gives each stage's CPU time (thread CPU, not wall).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import SourceError
from .governor import Governor
from .masking import KAnonymityCounter
from .rules import ResourceRules
from .sinks import BatchSink, Sinks
from .sources import Source, open_source

_DONE = object()


@dataclass
class LoadSummary:
    resource: str
    version: str | None
    source: str
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)  # rows failing each rule
    quarantine_by_first_rule: dict[str, int] = field(default_factory=dict)  # sums to rows_quarantined
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent in each stage (stages overlap)
    wall_seconds: float = 0.0
    # CPU seconds of each stage (thread CPU time, so other jobs on the machine do not inflate it);
    # "write_<zone>" is the engine's call into the sink; "other" is every other thread of this
    # process during the load (for lake sinks: the lake's own Parquet writer threads)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    rows_per_second: float = 0.0
    quality: dict[str, Any] = field(default_factory=dict)
    k_anonymity: dict[str, Any] | None = None  # over the share zone's quasi-identifiers (as published)
    batches: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Writer(threading.Thread):
    """Writes one zone; ``transform`` (the share zone's masking) runs here too, off the main thread."""

    def __init__(self, zone: str, sink: BatchSink, depth: int, transform=None) -> None:
        super().__init__(name=f"sink-{zone}", daemon=True)
        self.zone, self.sink, self.transform = zone, sink, transform
        self.inbox: queue.Queue = queue.Queue(maxsize=depth)
        self.seconds = 0.0
        self.transform_seconds = 0.0
        self.cpu = 0.0
        self.transform_cpu = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        while (batch := self.inbox.get()) is not _DONE:
            if self.error is not None:
                continue
            try:
                if self.transform is not None:
                    started, cpu = time.perf_counter(), time.thread_time()
                    batch = self.transform(batch)
                    self.transform_seconds += time.perf_counter() - started
                    self.transform_cpu += time.thread_time() - cpu
                started, cpu = time.perf_counter(), time.thread_time()
                self.sink.write(batch)
                self.seconds += time.perf_counter() - started
                self.cpu += time.thread_time() - cpu
            except BaseException as exc:  # reported to the governor thread
                self.error = exc


class _Reader(threading.Thread):
    def __init__(self, source: Source, depth: int) -> None:
        super().__init__(name="source", daemon=True)
        self.source = source
        self.outbox: queue.Queue = queue.Queue(maxsize=depth)
        self.seconds = 0.0
        self.cpu = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        iterator = iter(self.source.batches())
        try:
            while not self.stop.is_set():
                started, cpu = time.perf_counter(), time.thread_time()
                try:
                    batch = next(iterator)
                except StopIteration:
                    break
                finally:
                    self.seconds += time.perf_counter() - started
                    self.cpu += time.thread_time() - cpu
                self.outbox.put(batch)
        except BaseException as exc:
            self.outbox.put(exc)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close:
                close()
        self.outbox.put(_DONE)


def run(
    source: Source | str | Path,
    rules: ResourceRules | Mapping[str, Any],
    sinks: Sinks,
    *,
    keys: Mapping[str, bytes] | None = None,
    today: dt.date | None = None,
    data_date: dt.date | None = None,
    source_options: Mapping[str, Any] | None = None,
    queue_depth: int = 2,
) -> LoadSummary:
    """Read ``source``, govern it with ``rules``, write the four zones to ``sinks``.

    Raises ``SourceError`` (after aborting every sink) when the source cannot be read as a whole.
    Invariant of the returned summary: ``rows_read == rows_accepted + rows_quarantined``.
    """
    rules = rules if isinstance(rules, ResourceRules) else ResourceRules.model_validate(dict(rules))
    today = today or dt.date.today()
    if not isinstance(source, Source):
        options: dict[str, Any] = {"expected_columns": rules.column_names, "unknown_columns": rules.unknown_columns}
        options.update(source_options or {})
        source = open_source(source, **options)
    governor = Governor(rules, keys=keys, today=today, mask=sinks.share is not None)
    share_qi = [c for c in rules.quasi_identifiers if sinks.share is not None]
    counter = None
    if share_qi:
        counter = KAnonymityCounter(share_qi)

    def mask_and_count(clean_rows):
        batch = governor.mask(clean_rows)
        if counter is not None and batch.num_rows:
            counter.add(batch.select(share_qi))
        return batch

    # A writer holds at most one batch waiting (sinks such as the lake queue more themselves); the
    # reader may run ``queue_depth`` batches ahead.
    writers = {
        zone: _Writer(zone, sink, 1, transform=mask_and_count if zone == "share" else None)
        for zone, sink in sinks.resolved().items()
    }
    reader = _Reader(source, queue_depth)
    summary = LoadSummary(resource=rules.resource, version=rules.version, source=getattr(source, "name", str(source)))
    stage: dict[str, float] = {}  # seconds per stage, summed over the batches
    stage_cpu: dict[str, float] = {}
    by_rule: Counter[str] = Counter()
    by_first: Counter[str] = Counter()
    _keep_freed_memory()
    started = time.perf_counter()
    started_cpu = time.process_time()
    for w in writers.values():
        w.start()
    reader.start()
    failure: BaseException | None = None
    try:
        while (item := reader.outbox.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            result = governor.process(item, mask=False)
            summary.batches += 1
            summary.rows_read += result.rows
            summary.rows_accepted += result.clean.num_rows
            summary.rows_quarantined += result.quarantine.num_rows
            by_rule.update(result.by_rule)
            by_first.update(result.by_first_rule)
            _accumulate(stage, result.timings)
            _accumulate(stage_cpu, result.cpu_timings)
            for zone, batch in (
                ("raw", item),
                ("clean", result.clean),
                ("share", result.deferred()),
                ("quarantine", result.quarantine),
            ):
                if zone in writers and batch is not None:
                    writers[zone].inbox.put(batch)
            _raise_writer_error(writers)
    except BaseException as exc:
        failure = exc
        reader.stop.set()
        _drain(reader)
    finally:
        for w in writers.values():
            w.inbox.put(_DONE)
        for w in writers.values():
            w.join()
        governor.close()
        _release_free_memory()
    if failure is None:
        try:
            _raise_writer_error(writers)
        except BaseException as exc:
            failure = exc
    for w in writers.values():
        if failure is None:
            w.sink.close()
        else:
            abort = getattr(w.sink, "abort", None)
            (abort or w.sink.close)()
    if failure is not None:
        raise failure
    if summary.rows_read != summary.rows_accepted + summary.rows_quarantined:
        raise AssertionError("row accounting broken: read != accepted + quarantined")
    summary.wall_seconds = time.perf_counter() - started
    summary.rows_per_second = summary.rows_read / summary.wall_seconds if summary.wall_seconds else 0.0
    summary.quarantine_by_rule = dict(by_rule.most_common())
    summary.quarantine_by_first_rule = dict(by_first.most_common())
    stage.pop("mask", None)
    summary.timings = {"read": reader.seconds, **dict(stage)}
    if "share" in writers:
        summary.timings["mask"] = writers["share"].transform_seconds
    summary.timings.update({f"write_{zone}": w.seconds for zone, w in writers.items()})
    stage_cpu.pop("mask", None)
    cpu = {"read": reader.cpu, **dict(stage_cpu)}
    if "share" in writers:
        cpu["mask"] = writers["share"].transform_cpu
    cpu.update({f"write_{zone}": w.cpu for zone, w in writers.items()})
    cpu["other"] = max(0.0, time.process_time() - started_cpu - sum(cpu.values()))
    summary.cpu_seconds = cpu
    if counter is not None:
        summary.k_anonymity = asdict(counter.report(rules.k_anonymity, show=10))
    summary.quality = governor.quality.report(
        update_cycle=rules.update_cycle,
        as_of=today,
        data_date=data_date,
        has_unique=bool(rules.unique_keys),
        has_cross=bool(rules.cross_field),
    ).to_dict()
    return summary


def _libc():
    """glibc's ``malloc_trim`` and ``mallopt`` (None elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim, mallopt = libc.malloc_trim, libc.mallopt
    except (OSError, AttributeError):
        return None, None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return trim, mallopt


_TRIM, _MALLOPT = _libc()
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Every per-batch array is far below this (a batch is ~8 MB of input), so all of them come from
# malloc's heaps and are reused batch after batch.
_MMAP_THRESHOLD = 64 << 20


def _accumulate(total: dict[str, float], part: Mapping[str, float]) -> None:
    for name, seconds in part.items():
        total[name] = total.get(name, 0.0) + seconds


def _keep_freed_memory() -> None:
    """Let malloc keep and reuse what a batch frees instead of handing it back to the kernel.

    By default glibc maps big arrays (a batch's columns) afresh and unmaps them on free, and a
    trim gives back what the heaps free: each batch then faults its memory in again, and the
    kernel zeroes every page (measured: a quarter of the load's CPU). Fixed thresholds keep those
    pages in the process for the next batch; the load's footprint is a few batches either way,
    and ``_release_free_memory`` gives it back once at the end. Process-wide and idempotent.
    """
    if _MALLOPT is not None:
        _MALLOPT(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        _MALLOPT(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD)


def _release_free_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)


def _raise_writer_error(writers: dict[str, _Writer]) -> None:
    for w in writers.values():
        if w.error is not None:
            raise w.error


def _drain(reader: _Reader) -> None:
    """Unblock a reader stuck on a full queue so its thread can end."""
    while reader.is_alive():
        try:
            reader.outbox.get(timeout=0.05)
        except queue.Empty:
            pass


__all__ = ["LoadSummary", "SourceError", "run"]
