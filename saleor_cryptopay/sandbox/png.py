"""A tiny valid PNG built with the standard library.

NOTE: the image is NOT a scannable QR code. It is a deterministic pixel
pattern derived from the data (so each address gets its own picture) with
QR-like corner markers, good enough to show where a real provider's QR code
would be and to give clients a real base64 PNG to decode.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

_MODULES = 21  # the size of a version-1 QR code, for looks only
_SCALE = 4
_QUIET = 2


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _modules(data: str) -> list[list[bool]]:
    bits: list[bool] = []
    seed = data.encode("utf-8")
    while len(bits) < _MODULES * _MODULES:
        seed = hashlib.sha256(seed).digest()
        bits.extend(bool(byte >> i & 1) for byte in seed for i in range(8))
    grid = [bits[r * _MODULES : (r + 1) * _MODULES] for r in range(_MODULES)]
    for top, left in ((0, 0), (0, _MODULES - 7), (_MODULES - 7, 0)):
        for r in range(7):
            for c in range(7):
                ring = max(abs(r - 3), abs(c - 3))
                grid[top + r][left + c] = ring != 2
    return grid


def tiny_png(data: str) -> bytes:
    """An 8-bit greyscale PNG, black modules on a white quiet zone."""
    grid = _modules(data)
    side = (_MODULES + 2 * _QUIET) * _SCALE
    rows = []
    for y in range(side):
        r = y // _SCALE - _QUIET
        row = bytearray(b"\x00")  # filter type 0 (None) for every scanline
        for x in range(side):
            c = x // _SCALE - _QUIET
            dark = 0 <= r < _MODULES and 0 <= c < _MODULES and grid[r][c]
            row.append(0 if dark else 255)
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_base64(data: str) -> str:
    return base64.b64encode(tiny_png(data)).decode("ascii")


def png_data_uri(data: str) -> str:
    return "data:image/png;base64," + png_base64(data)
