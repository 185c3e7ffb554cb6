"""The governance engine's sinks backed by one atomic lake load.

The engine closes each zone's sink separately; the lake must publish raw, clean, share and
quarantine together or not at all. So the four sinks share one ``core.lake`` Load: batches
stream into it as they come, the load commits when the last sink closes, and any abort
drops every staged file (the previous snapshots stay current).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pyarrow as pa

from yiwang.core.lake import Lake, LoadResult, ParquetOptions, Target, WriteMode
from yiwang.governance.engine import Sinks

ZONES = ("raw", "clean", "share", "quarantine")
# How a load encodes its three big zones: no general-purpose codec. Dictionary and RLE still
# encode the repetitive columns (gender, ethnic group, community, masked dates and addresses);
# zstd-1 on the near-unique ones (IDs, phones, names, addresses) was ~70 % of the load's write
# CPU. Files are ~3.7x larger than zstd-1; ``Lake.compact()`` rewrites a table's files with the
# lake's default codec later, off the load's path — the usual Iceberg pattern of fast ingest
# plus compaction. Quarantine (small) keeps the lake defaults.
INGEST_PARQUET = ParquetOptions(compression="none", compression_level=None)
FAST_ZONES = ("raw", "clean", "share")


class LakeLoad:
    """Owns the shared Load; hands out one sink per zone."""

    def __init__(
        self,
        lake: Lake,
        name: str,
        *,
        modes: Mapping[str, Target | WriteMode | str] | None = None,
        zones: tuple[str, ...] = ZONES,
        load_id: str | None = None,
        parquet: ParquetOptions | None = INGEST_PARQUET,
    ) -> None:
        """``parquet``: the encoding of the raw, clean and share files (``None``: the lake's defaults)."""
        modes = dict(modes or {})
        targets = {}
        for zone in zones:
            # Quarantine always appends (rejected rows of every load are kept); the others follow the mode.
            target = Target.of(modes.get(zone, WriteMode.APPEND if zone == "quarantine" else WriteMode.REPLACE))
            if parquet is not None and zone in FAST_ZONES and target.parquet is None:
                target = dataclasses.replace(target, parquet=parquet)
            targets[f"{zone}.{name}"] = target
        self.name = name
        self._load = lake.load(targets, load_id=load_id)
        self._open = set(zones)
        self._failed = False
        self.result: LoadResult | None = None

    @property
    def load_id(self) -> str:
        return self._load.load_id

    def sinks(self) -> Sinks:
        return Sinks(**{zone: _ZoneSink(self, zone) for zone in self._open})

    def _write(self, zone: str, batch: pa.RecordBatch) -> None:
        self._load.write(f"{zone}.{self.name}", batch)

    def _close(self, zone: str) -> None:
        self._open.discard(zone)
        if not self._open and not self._failed:
            self.result = self._load.commit()

    def _abort(self) -> None:
        if not self._failed:
            self._failed = True
            self._load.abort()


class _ZoneSink:
    def __init__(self, owner: LakeLoad, zone: str) -> None:
        self._owner, self._zone = owner, zone

    def write(self, batch: pa.RecordBatch) -> None:
        self._owner._write(self._zone, batch)

    def close(self) -> None:
        self._owner._close(self._zone)

    def abort(self) -> None:
        self._owner._abort()
