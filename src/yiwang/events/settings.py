"""Settings of the event center, read from ``YIWANG_EVENTS_*`` environment variables.

They live beside the domain (not in ``core.config``) because only the event center uses
them; README's "Event center" section documents each one.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EventsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIWANG_EVENTS_", extra="ignore")

    background: bool = Field(True, description="Run the triage worker and SLA timers inside each web process.")
    timer_seconds: float = Field(30, ge=0.2, le=3600, description="Seconds between two SLA timer ticks.")
    triage_seconds: float = Field(0.5, ge=0.05, le=60, description="Seconds between two triage worker polls.")
    triage_batch: int = Field(500, ge=1, le=10000, description="Cases classified per triage batch.")
    triage_max_wait: float = Field(
        60, ge=1, le=3600, description="During an intake burst, triage still runs once a case waits this long."
    )
    min_confidence: float = Field(0.5, ge=0, le=1, description="Below this triage confidence a dispatcher decides.")
    history_cases: int = Field(
        36000, ge=0, le=2_000_000, description="Historical cases the reference pack seeds on the first start."
    )
    unknown_years: Literal["raise", "weekends"] = Field(
        "weekends", description="Years chinesecalendar does not know: count Monday–Friday (with a warning) or fail."
    )
    holiday_supplement: Path | None = Field(
        None,
        description="CSV (date,kind) of an official holiday notice newer than chinesecalendar; "
        "default: the reference pack's event_holidays.csv.",
    )
    max_text_chars: int = Field(5000, ge=100, le=100000, description="Longest report description accepted.")
    max_body_kb: int = Field(256, ge=16, le=10240, description="Largest non-upload intake request body, in KB.")
    max_photo_mb: int = Field(8, ge=1, le=64, description="Largest photo accepted, in MB.")
    max_photos: int = Field(6, ge=0, le=20, description="Photos per report.")
    duplicate_metres: float = Field(50, ge=0, le=5000, description="Same minor class within this distance ...")
    duplicate_hours: float = Field(24, ge=0, le=720, description="... and this many hours is a probable duplicate.")
    sender: str = Field("logging", description="SMS/e-mail sender: `logging` or `module:Class` of a Sender.")
    batch_max: int = Field(256, ge=1, le=5000, description="Largest group commit of the intake batcher.")
    batch_linger_ms: float = Field(
        8,
        ge=0,
        le=200,
        description="Under a burst, how long the intake batcher lets "
        "a group commit fill before writing it (0: never wait).",
    )
    bench_routes: bool = Field(False, description="Expose the bare benchmark endpoint (benchmarks only).")


@functools.lru_cache(maxsize=1)
def get_events_settings() -> EventsSettings:
    return EventsSettings()
