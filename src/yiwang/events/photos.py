"""Photos of reports and handling: checked by content, size-limited, stored with their SM3.

A file is accepted only if Pillow recognises it as JPEG, PNG or WebP and verifies it — the
name and the declared content type are not trusted. Files go to
``YIWANG_HOME/uploads/events/<yyyy>/<mm>/<sm3>.<ext>`` (content-addressed, so the same photo
twice is stored once) and are written to a temporary name first, then renamed.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from yiwang.core.crypto import sm3_hex
from yiwang.core.db import utcnow
from yiwang.core.errors import Invalid, PayloadTooLarge, YiwangError
from yiwang.core.i18n import _
from yiwang.events.settings import get_events_settings

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
MAX_PIXELS = 60_000_000  # refuse decompression bombs


class UnsupportedMedia(YiwangError):
    status_code = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class Photo:
    data: bytes
    name: str | None
    mime: str
    ext: str
    width: int
    height: int
    sm3: str


def check(data: bytes, name: str | None) -> Photo:
    """Refuse what is not a real, reasonably sized image."""
    limit = get_events_settings().max_photo_mb
    if len(data) > limit * 1024 * 1024:
        raise PayloadTooLarge(
            _("The photo %(name)s is larger than %(mb)s MB.", name=(name or "")[:80], mb=limit), field="media"
        )
    if not data:
        raise Invalid(_("The photo %(name)s is empty.", name=(name or "")[:80]), field="media")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
            if width * height > MAX_PIXELS:
                raise PayloadTooLarge(
                    _("The photo %(name)s has too many pixels.", name=(name or "")[:80]), field="media"
                )
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UnsupportedMedia(
            _("%(name)s is not a JPEG, PNG or WebP image.", name=(name or "file")[:80]), field="media"
        ) from None
    if fmt not in FORMATS:
        raise UnsupportedMedia(
            _("%(name)s is not a JPEG, PNG or WebP image.", name=(name or "file")[:80]), field="media"
        )
    mime, ext = FORMATS[fmt]
    return Photo(data, (name or "")[:200] or None, mime, ext, width, height, sm3_hex(data))


def check_all(files: list[tuple[bytes, str | None]]) -> list[Photo]:
    limit = get_events_settings().max_photos
    if len(files) > limit:
        raise Invalid(_("At most %(n)s photos per report.", n=limit), field="media")
    return [check(data, name) for data, name in files]


def store(home: Path, photo: Photo) -> str:
    """Write the file (atomically) and return its path relative to the uploads folder."""
    now = utcnow()
    rel = Path("events") / f"{now:%Y}" / f"{now:%m}" / f"{photo.sm3}.{photo.ext}"
    target = home / "uploads" / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".up-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(photo.data)
        os.replace(tmp, target)
    return str(rel)


def without_metadata(data: bytes) -> bytes:
    """The photo as the public gets it: re-encoded without its metadata (EXIF with the GPS position and the
    time it was taken, XMP, comments, the camera's serial), turned upright first as its EXIF said.
    The stored file, the evidence with its SM3, stays as it was received."""
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format
        upright = ImageOps.exif_transpose(img)  # a copy, whatever the orientation
    upright.info = {}  # nothing of the original's metadata may follow it into the saved file
    out = io.BytesIO()
    if fmt == "JPEG":
        upright.save(out, "JPEG", quality=90)
    elif fmt == "WEBP":
        upright.save(out, "WEBP", quality=90)
    else:
        upright.save(out, "PNG")
    return out.getvalue()


def path_of(home: Path, rel: str) -> Path:
    full = (home / "uploads" / rel).resolve()
    if not str(full).startswith(str((home / "uploads").resolve())):
        raise Invalid(_("Bad photo path."))
    return full
