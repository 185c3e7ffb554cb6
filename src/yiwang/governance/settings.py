"""Settings of ingestion and governance, read from ``YIWANG_GOVERNANCE_*`` environment variables.

They live beside the domain (as the event center's do) because only governance uses them;
README's "Data foundation" section documents each one.
"""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GovernanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIWANG_GOVERNANCE_", extra="ignore")

    background: bool = Field(True, description="Run the load worker (uploaded files) inside each web process.")
    workers: int = Field(1, ge=1, le=8, description="Load worker threads per web process.")
    poll_seconds: float = Field(1.0, ge=0.05, le=60, description="Seconds between two polls for queued loads.")
    max_file_mb: int = Field(
        1024,
        ge=1,
        le=1_048_576,
        description="Largest source file a load reads, in MB; also the upload route's body limit "
        "(other requests keep YIWANG_MAX_BODY_MB).",
    )
    stale_seconds: int = Field(
        120, ge=5, le=86400, description="A running load whose heartbeat is older than this is taken as killed."
    )
    forward_retries: int = Field(
        3, ge=0, le=10, description="Attempts to forward a lineage event to YIWANG_OPENLINEAGE_URL before giving up."
    )


@functools.lru_cache(maxsize=1)
def get_governance_settings() -> GovernanceSettings:
    return GovernanceSettings()
