"""``run(source, rules, sinks)``: one governed load, streamed through a small thread pipeline.

reader thread ──▶ governor (this thread) ──▶ one writer thread per sink

Decoding (C iconv), CSV parsing (Arrow), Polars expressions, numpy ufuncs and Parquet
encoding all release the GIL, so the stages overlap on both cores. Queues are bounded, so at
most a handful of batches are in memory whatever the file size.
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
        self.error: BaseException | None = None

    def run(self) -> None:
        while (batch := self.inbox.get()) is not _DONE:
            if self.error is not None:
                continue
            try:
                if self.transform is not None:
                    started = time.perf_counter()
                    batch = self.transform(batch)
                    self.transform_seconds += time.perf_counter() - started
                started = time.perf_counter()
                self.sink.write(batch)
                self.seconds += time.perf_counter() - started
            except BaseException as exc:  # reported to the governor thread
                self.error = exc


class _Reader(threading.Thread):
    def __init__(self, source: Source, depth: int) -> None:
        super().__init__(name="source", daemon=True)
        self.source = source
        self.outbox: queue.Queue = queue.Queue(maxsize=depth)
        self.seconds = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        iterator = iter(self.source.batches())
        try:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    batch = next(iterator)
                except StopIteration:
                    break
                finally:
                    self.seconds += time.perf_counter() - started
                self.outbox.put(batch)
        except BaseException as exc:
            self.outbox.put(exc)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close:
                close()
        self.outbox.put(_DONE)


def run(source: Source | str | Path, rules: ResourceRules | Mapping[str, Any], sinks: Sinks, *,
        keys: Mapping[str, bytes] | None = None, today: dt.date | None = None, data_date: dt.date | None = None,
        source_options: Mapping[str, Any] | None = None, queue_depth: int = 2) -> LoadSummary:
    """Read ``source``, govern it with ``rules``, write the four zones to ``sinks``.

    Raises ``SourceError`` (after aborting every sink) when the source cannot be read as a whole.
    Invariant of the returned summary: ``rows_read == rows_accepted + rows_quarantined``.
    """
    rules = rules if isinstance(rules, ResourceRules) else ResourceRules.model_validate(dict(rules))
    today = today or dt.date.today()
    if not isinstance(source, Source):
        options = {"expected_columns": rules.column_names, "unknown_columns": rules.unknown_columns}
        options.update(source_options or {})
        source = open_source(source, **options)
    governor = Governor(rules, keys=keys, today=today, mask=sinks.share is not None)
    share_qi = [c for c in rules.quasi_identifiers if sinks.share is not None]
    counter = KAnonymityCounter(share_qi) if share_qi else None

    def mask_and_count(clean_frame):
        batch = governor.mask(clean_frame)
        if counter is not None and batch.num_rows:
            counter.add(batch.select(share_qi))
        return batch

    writers = {
        zone: _Writer(zone, sink, queue_depth, transform=mask_and_count if zone == "share" else None)
        for zone, sink in sinks.resolved().items()
    }
    reader = _Reader(source, queue_depth)
    summary = LoadSummary(resource=rules.resource, version=rules.version, source=getattr(source, "name", str(source)))
    stage = Counter()
    by_rule, by_first = Counter(), Counter()
    started = time.perf_counter()
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
            stage.update(result.timings)
            for zone, batch in (("raw", item), ("clean", result.clean), ("share", result.clean_frame),
                                ("quarantine", result.quarantine)):
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
    if counter is not None:
        summary.k_anonymity = asdict(counter.report(rules.k_anonymity, show=10))
    summary.quality = governor.quality.report(
        update_cycle=rules.update_cycle, as_of=today, data_date=data_date,
        has_unique=bool(rules.unique_keys), has_cross=bool(rules.cross_field),
    ).to_dict()
    return summary


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


__all__ = ["run", "LoadSummary", "SourceError"]
