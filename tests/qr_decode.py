"""Read QR codes back with a real decoder (ZXing's C++ port), as a phone would."""

from __future__ import annotations

import base64
import io

import zxingcpp
from PIL import Image


def png_of(image: str | bytes) -> bytes:
    """The PNG bytes of a ``data:image/png;base64,…`` URI, bare base64 or bytes."""
    if isinstance(image, bytes):
        return image
    if image.startswith("data:"):
        header, _, image = image.partition(",")
        assert header == "data:image/png;base64", header
    return base64.b64decode(image, validate=True)


def decode_qr(image: str | bytes) -> str:
    """The text of the one QR code in the image; fails unless there is exactly one."""
    png = png_of(image)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    codes = [r for r in found if r.format == zxingcpp.BarcodeFormat.QRCode and r.valid]
    assert len(codes) == 1, found
    return codes[0].text
