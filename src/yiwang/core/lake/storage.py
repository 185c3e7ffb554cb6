"""Where lake files live: a local folder or an S3-compatible bucket.

PyIceberg, PyArrow and DuckDB each name files their own way; this module keeps
the translations in one place so the rest of the lake code deals in Iceberg URIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


@dataclass(frozen=True)
class S3Options:
    """Credentials and endpoint of an S3-compatible store (MinIO, Ceph, OSS, moto...)."""

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    # A fixed region stops PyArrow from asking AWS where the bucket lives (no internet here).
    region: str = "us-east-1"


def warehouse_uri(location: str) -> str:
    """Turn a folder path into a ``file://`` URI; leave ``s3://`` (or any URI) as it is."""
    if "://" in location:
        return location.rstrip("/")
    return Path(location).expanduser().resolve().as_uri()


def is_s3(uri: str) -> bool:
    return urlparse(uri).scheme in {"s3", "s3a", "s3n"}


def fileio_properties(s3: S3Options | None) -> dict[str, str]:
    """PyIceberg FileIO properties for the store."""
    if s3 is None:
        return {}
    props = {"s3.region": s3.region}
    if s3.endpoint:
        props["s3.endpoint"] = s3.endpoint
    if s3.access_key:
        props["s3.access-key-id"] = s3.access_key
    if s3.secret_key:
        props["s3.secret-access-key"] = s3.secret_key
    return props


def arrow_filesystem(uri: str, s3: S3Options | None) -> pafs.FileSystem:
    """A PyArrow filesystem able to open the files under ``uri``."""
    if not is_s3(uri):
        return pafs.LocalFileSystem()
    s3 = s3 or S3Options()
    endpoint, scheme = s3.endpoint, "https"
    if endpoint and "://" in endpoint:
        parsed = urlparse(endpoint)
        scheme, endpoint = parsed.scheme, parsed.netloc
    return pafs.S3FileSystem(
        endpoint_override=endpoint,
        scheme=scheme,
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        region=s3.region,
    )


def arrow_path(uri: str) -> str:
    """The path PyArrow filesystems expect: ``/abs/path`` or ``bucket/key``."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else uri
    return f"{parsed.netloc}{unquote(parsed.path)}"


def duckdb_path(uri: str) -> str:
    """The path DuckDB reads: a plain local path, or ``s3://bucket/key`` through a registered filesystem."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return arrow_path(uri)
    return f"s3://{parsed.netloc}{parsed.path}"


def register_duckdb_filesystem(conn: DuckDBPyConnection, warehouse: str, s3: S3Options | None) -> None:
    """Let DuckDB read ``s3://`` paths through PyArrow's S3 client.

    DuckDB's own httpfs extension is a download; an fsspec wrapper around PyArrow's
    built-in S3 filesystem needs nothing extra.
    """
    if not is_s3(warehouse):
        return
    from fsspec.implementations.arrow import ArrowFSWrapper

    class _S3(ArrowFSWrapper):  # type: ignore[misc]  # fsspec is untyped: its classes are Any
        protocol = "s3"

    conn.register_filesystem(_S3(arrow_filesystem(warehouse, s3)))
