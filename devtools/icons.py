"""Draw the app's icons (PNG) with the standard library only.

Splunk looks for app/static/appIcon.png (36x36), appIcon_2x.png (72x72), appIconAlt.png and
appIconAlt_2x.png (same sizes, for dark backgrounds), appLogo.png (160x40) and appLogo_2x.png
(320x80). The drawing is a shipping container (the image) with a red mark (the backdoor).
Run `python3 -m devtools.icons` to redraw them; the PNGs are committed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

Color = tuple[int, int, int, int]
PURPLE: Color = (90, 74, 184, 255)
WHITE: Color = (255, 255, 255, 255)
RED: Color = (220, 53, 69, 255)
CLEAR: Color = (0, 0, 0, 0)
DARK: Color = (32, 30, 48, 255)


def _png(width: int, height: int, pixel: object) -> bytes:
    """Encode an RGBA image whose colour at (x, y) is pixel(x, y)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw.extend(pixel(x, y))  # type: ignore[operator]

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def _icon_pixel(size: int, background: Color, ink: Color) -> object:
    radius = size // 6

    def pixel(x: int, y: int) -> Color:
        # rounded square background
        cx = min(max(x, radius), size - 1 - radius)
        cy = min(max(y, radius), size - 1 - radius)
        if (x - cx) ** 2 + (y - cy) ** 2 > radius ** 2:
            return CLEAR
        u, v = x / size, y / size
        # red mark, top right
        if (u - 0.74) ** 2 + (v - 0.27) ** 2 < 0.014:
            return RED
        # container: outline with vertical ribs
        if 0.16 <= u <= 0.84 and 0.42 <= v <= 0.80:
            border = u < 0.22 or u > 0.78 or v < 0.48 or v > 0.74
            rib = int((u - 0.22) / 0.08) % 2 == 0
            return ink if border or rib else background
        return background

    return pixel


def _logo_pixel(width: int, height: int) -> object:
    icon = _icon_pixel(height, PURPLE, WHITE)

    def pixel(x: int, y: int) -> Color:
        if x < height:
            return icon(x, y)  # type: ignore[operator]
        # a bar under where Splunk prints the app label
        if height * 1.2 <= x <= width - height * 0.2 and height * 0.45 <= y <= height * 0.55:
            return PURPLE
        return CLEAR

    return pixel


def write_icons(static: Path) -> None:
    """Write the six PNGs Splunk expects into static/."""
    static.mkdir(parents=True, exist_ok=True)
    for name, size, bg, ink in (("appIcon", 36, PURPLE, WHITE), ("appIconAlt", 36, WHITE, PURPLE)):
        (static / f"{name}.png").write_bytes(_png(size, size, _icon_pixel(size, bg, ink)))
        (static / f"{name}_2x.png").write_bytes(_png(size * 2, size * 2, _icon_pixel(size * 2, bg, ink)))
    (static / "appLogo.png").write_bytes(_png(160, 40, _logo_pixel(160, 40)))
    (static / "appLogo_2x.png").write_bytes(_png(320, 80, _logo_pixel(320, 80)))


if __name__ == "__main__":
    write_icons(Path(__file__).resolve().parent.parent / "app" / "static")
