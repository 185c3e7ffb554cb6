"""Quality report of one load: completeness, validity, uniqueness, consistency, timeliness.

Overall score = weighted mean of the dimensions that apply to the resource, with weights
completeness 0.25, validity 0.30, uniqueness 0.15, consistency 0.15, timeliness 0.15; a
dimension that does not apply (no unique key, no cross-field rule, irregular update cycle or
no data date) is left out and the other weights are rescaled to sum to 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from .rules import CROSS_FIELD_RULES

WEIGHTS = {"completeness": 0.25, "validity": 0.30, "uniqueness": 0.15, "consistency": 0.15, "timeliness": 0.15}
CYCLE_DAYS = {
    "realtime": 1,
    "hourly": 1,
    "daily": 1,
    "weekly": 7,
    "monthly": 31,
    "quarterly": 92,
    "half_yearly": 183,
    "yearly": 366,
    "irregular": None,
}
COLUMN_LEVEL_EXCLUDED = {"required", "unique", *CROSS_FIELD_RULES}


@dataclass
class ColumnQuality:
    filled: int = 0
    invalid: int = 0

    def completeness(self, rows: int) -> float | None:
        return self.filled / rows if rows else None

    def validity(self) -> float | None:
        return (self.filled - self.invalid) / self.filled if self.filled else None


@dataclass
class QualityAccumulator:
    """Counts gathered batch by batch; ``report`` turns them into ratios."""

    columns: dict[str, ColumnQuality] = field(default_factory=dict)
    rows: int = 0
    key_rows: int = 0
    duplicates: int = 0
    cross_checked: int = 0
    cross_failed: int = 0
    latest_date: dt.date | None = None

    def add_dates(self, latest: dt.date | None) -> None:
        if latest is not None and (self.latest_date is None or latest > self.latest_date):
            self.latest_date = latest

    def report(
        self, *, update_cycle: str, as_of: dt.date, data_date: dt.date | None = None, has_unique: bool, has_cross: bool
    ) -> QualityReport:
        rows = self.rows
        cells = rows * len(self.columns)
        filled = sum(c.filled for c in self.columns.values())
        invalid = sum(c.invalid for c in self.columns.values())
        dims: dict[str, float | None] = {
            "completeness": filled / cells if cells else None,
            "validity": (filled - invalid) / filled if filled else None,
            "uniqueness": (1 - self.duplicates / self.key_rows) if has_unique and self.key_rows else None,
            "consistency": (1 - self.cross_failed / self.cross_checked) if has_cross and self.cross_checked else None,
        }
        date = data_date or self.latest_date
        cycle = CYCLE_DAYS.get(update_cycle)
        lag = (as_of - date).days if date else None
        dims["timeliness"] = _timeliness(lag, cycle)
        used = {k: v for k, v in dims.items() if v is not None}
        total_weight = sum(WEIGHTS[k] for k in used)
        overall = sum(WEIGHTS[k] * v for k, v in used.items()) / total_weight if total_weight else None
        per_column = {
            name: {
                "completeness": c.completeness(rows),
                "validity": c.validity(),
                "filled": c.filled,
                "invalid": c.invalid,
            }
            for name, c in self.columns.items()
        }
        return QualityReport(
            rows=rows,
            overall=overall,
            data_date=date.isoformat() if date else None,
            lag_days=lag,
            update_cycle=update_cycle,
            weights=dict(WEIGHTS),
            columns=per_column,
            **dims,
        )


def _timeliness(lag: int | None, cycle: int | None) -> float | None:
    """1.0 within the declared cycle, falling linearly to 0 at twice the cycle."""
    if lag is None or cycle is None:
        return None
    if lag <= cycle:
        return 1.0
    return max(0.0, 1.0 - (lag - cycle) / cycle)


@dataclass
class QualityReport:
    rows: int
    completeness: float | None
    validity: float | None
    uniqueness: float | None
    consistency: float | None
    timeliness: float | None
    overall: float | None
    data_date: str | None
    lag_days: int | None
    update_cycle: str
    weights: dict[str, float]
    columns: dict[str, dict]

    def to_dict(self) -> dict:
        return asdict(self)
