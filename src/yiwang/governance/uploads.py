"""Uploads streamed to disk under ``YIWANG_HOME/uploads``, hashed with SM3 on the way, size-capped.

The body is read chunk by chunk and never held in memory; the first byte past the limit ends
the upload with 413 (the web layer already refuses a declared ``Content-Length`` over
``YIWANG_MAX_BODY_MB`` before any byte is read).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from fastapi import Request

from yiwang.core.errors import Invalid, PayloadTooLarge
from yiwang.core.i18n import _

SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".xlsx", ".xlsm", ".json", ".ndjson", ".jsonl")
_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


def clean_filename(name: str | None) -> str:
    """The file's own name, without folders or control characters; its suffix must be one we read."""
    base = _UNSAFE.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")[:200]
    if not base or not base.lower().endswith(SUFFIXES):
        raise Invalid(
            _("Upload a CSV, TSV, XLSX, JSON or NDJSON file (got %(name)s).", name=base or "—"),
            field="filename",
            code="unsupported_format",
        )
    return base


async def receive(request: Request, *, folder: Path, limit_bytes: int, suffix: str) -> tuple[Path, int, str]:
    """Stream the request body to a new file; returns (path, size, SM3 hex)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"  # the engine picks the reader by suffix
    digest, size = hashes.Hash(hashes.SM3()), 0
    try:
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit_bytes:
                    raise PayloadTooLarge(
                        _("The file is larger than the upload limit of %(mb)s MB.", mb=limit_bytes >> 20),
                        field="file",
                        limit_bytes=limit_bytes,
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise Invalid(_("The upload is empty."), field="file", code="empty_file")
    return path, size, digest.finalize().hex()
