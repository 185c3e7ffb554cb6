"""All settings of the platform, read once from ``YIWANG_*`` environment variables.

Every field is documented here and in README's configuration table (a test checks
that the two agree). Secrets refuse their defaults outside the demo profile.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SECRET_KEY = "demo-secret-key-change-me-outside-the-demo-profile"
# 16 bytes (32 hex digits) for SM4; published in README, so only fit for the demo.
DEMO_DATA_KEY = "000102030405060708090a0b0c0d0e0f"
DEMO_PASSWORD = "Kunshan@2026"


class ConfigError(RuntimeError):
    """Raised when the settings cannot be used to start the platform."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIWANG_", extra="ignore")

    profile: Literal["demo", "production"] = Field(
        "demo",
        description="`demo` seeds demo accounts and accepts published keys; "
        "`production` refuses default secrets and creates no demo accounts.",
    )
    home: Path = Field(Path("./var"), description="Folder holding all state: database, lake, uploads, logs.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database; default `sqlite:///$YIWANG_HOME/yiwang.db`. "
        "Use `postgresql+psycopg://user@host/db` in production.",
    )
    lake_uri: str | None = Field(
        None,
        description="Where lake Parquet files live; default `$YIWANG_HOME/lake`. "
        "An `s3://bucket/prefix` URI uses an S3-compatible store (see `lake_s3_*`).",
    )
    lake_s3_endpoint: str | None = Field(None, description="S3 endpoint URL for an S3-compatible lake bucket.")
    lake_s3_access_key: str | None = Field(None, description="S3 access key id for the lake bucket.")
    lake_s3_secret_key: str | None = Field(None, description="S3 secret access key for the lake bucket.")
    secret_key: str = Field(
        DEMO_SECRET_KEY,
        description="Key that signs sessions and CSRF tokens and keys HMAC pseudonyms. "
        "At least 32 characters; required outside the demo profile.",
    )
    data_key: str = Field(
        DEMO_DATA_KEY,
        description="SM4 key (32 hex digits) that encrypts sensitive columns at rest; "
        "required outside the demo profile.",
    )
    demo_password: str = Field(DEMO_PASSWORD, description="Password of every demo account (demo profile only).")
    host: str = Field("127.0.0.1", description="Address `yiwang up` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `yiwang up` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Web worker processes started by `yiwang up`.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["json", "console"] = Field("json", description="Structured log output format.")
    session_hours: int = Field(8, ge=1, le=720, description="Lifetime of a browser session, in hours.")
    access_token_minutes: int = Field(60, ge=1, le=1440, description="Lifetime of an OAuth2 access token, in minutes.")
    login_max_failures: int = Field(
        5, ge=1, le=100, description="Failed logins for one username or address before it is throttled."
    )
    login_lockout_minutes: int = Field(
        15, ge=1, le=1440, description="Window and lockout time of the failed-login throttle, in minutes."
    )
    secure_cookies: bool = Field(
        False, description="Mark cookies `Secure` (set when served over HTTPS, as in production)."
    )
    max_body_mb: int = Field(
        64, ge=1, le=4096, description="Largest request body accepted, in MB (uploads larger are refused with 413)."
    )
    openlineage_url: str | None = Field(
        None, description="Optional OpenLineage endpoint (Marquez, DataHub) that lineage events are forwarded to."
    )
    audit_anchor_file: Path | None = Field(
        None,
        description="JSON-lines file the signed audit ledger heads (anchors) are appended to; default "
        "`$YIWANG_HOME/audit-anchors.jsonl`. Copy it off the database host: it detects a rewritten ledger.",
    )
    audit_anchor_key: str | None = Field(
        None,
        description="SM2 key pair signing the anchors (192 hex digits, from `yiwang audit keygen`); default a key "
        "made on first use in `$YIWANG_HOME/audit-anchor.key`.",
    )
    audit_anchor_minutes: int = Field(
        60, ge=0, le=10080, description="How often each web process anchors the audit ledger, in minutes (0: never)."
    )

    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDR networks of the reverse proxies in front of yiwang "
        "(e.g. `10.0.0.5,192.168.10.0/24`); `X-Forwarded-For` is honoured only from them. Default: none.",
    )

    @model_validator(mode="after")
    def _check_trusted_proxies(self) -> Settings:
        _parse_networks(self.trusted_proxies)  # ValueError (a clear message) on a bad entry
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.profile == "demo":
            return self
        problems = []
        if self.secret_key == DEMO_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("YIWANG_SECRET_KEY must be set to a random value of at least 32 characters")
        if self.data_key == DEMO_DATA_KEY:
            problems.append("YIWANG_DATA_KEY must be set to your own 32-hex-digit SM4 key")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _check_data_key(self) -> Settings:
        try:
            key = bytes.fromhex(self.data_key)
        except ValueError:
            key = b""
        if len(key) != 16:
            raise ValueError("YIWANG_DATA_KEY must be 32 hexadecimal digits (a 128-bit SM4 key)")
        return self

    # Derived locations -------------------------------------------------------
    @property
    def home_path(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_path / 'yiwang.db'}"

    @property
    def lake_location(self) -> str:
        return self.lake_uri or str(self.home_path / "lake")

    @property
    def audit_anchor_path(self) -> Path:
        return (self.audit_anchor_file or self.home_path / "audit-anchors.jsonl").expanduser().resolve()

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _parse_networks(self.trusted_proxies)

    @property
    def data_key_bytes(self) -> bytes:
        return bytes.fromhex(self.data_key)

    @property
    def is_demo(self) -> bool:
        return self.profile == "demo"


@functools.lru_cache(maxsize=32)
def _parse_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    out = []
    for part in value.split(","):
        if part.strip():
            try:
                out.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"YIWANG_TRUSTED_PROXIES: {part.strip()[:60]!r} is not an address or a CIDR network"
                ) from None
    return tuple(out)


def load_settings() -> Settings:
    """Read settings from the environment, turning validation errors into one clear message."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  - {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("yiwang cannot start with these settings:\n" + "\n".join(lines)) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
