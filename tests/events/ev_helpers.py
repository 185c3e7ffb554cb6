"""Plain helpers of the event center tests (importable as ``ev_helpers``)."""

import io

from PIL import Image

POINT = {"lat": 31.3902, "long": 120.9585}  # 玉山镇, near the town seat
OUTSIDE = {"lat": 31.2304, "long": 121.4737}  # Shanghai, People's Square


def png_bytes(size=(32, 24), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()
