"""Thumbnails: memory follows the thumbnail, not the original.

A one-colour 10000×10000 PNG is a 24 KB file; decoded whole it is 100 MB,
and 400 MB as RGB. The measurement runs in a fresh process, so that its peak
resident memory is that of the thumbnails alone.
"""

import io
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from PIL import Image as PILImage

from boards import imaging

ROOT = Path(__file__).resolve().parent.parent


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def one_colour_png(width: int = 10_000, height: int = 10_000) -> bytes:
    """A bilevel PNG as image editors write one: 1 bit a pixel, deflated (built row by row, never whole)."""
    packer = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


MEASURE = textwrap.dedent(
    """
    import io, os, sys, threading
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    django.setup()
    from boards import imaging

    data = open(sys.argv[1], "rb").read()
    imaging.process(open(sys.argv[2], "rb").read())  # warm up on a small image
    status = lambda key: int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1])
    # Peak RSS from here on: ru_maxrss would carry the parent's (pytest's) RSS over the fork
    # and exec, so reset this process's high-water mark and read VmHWM.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    results = []
    threads = [threading.Thread(target=lambda: results.append(imaging.process(io.BytesIO(data)))) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 4 and all(r.width == 10_000 and len(r.thumbnail) < 10_000 for r in results)
    print((status("VmHWM") - before) // 1024)
    """
)


def test_four_huge_one_colour_pngs_at_once_add_under_150_mb(tmp_path):
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    big.write_bytes(one_colour_png())
    assert big.stat().st_size < 30_000
    PILImage.new("1", (64, 64), 1).save(small)
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, str(big), str(small)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    grown_mb = int(run.stdout.split()[-1])
    assert grown_mb < 150, f"four thumbnails raised peak memory by {grown_mb} MB"


def test_the_thumbnail_of_a_huge_png_is_right():
    result = imaging.process(one_colour_png(10_000, 5_000))
    assert (result.width, result.height) == (10_000, 5_000)
    thumb = PILImage.open(io.BytesIO(result.thumbnail))
    assert thumb.size == (256, 128) and thumb.mode == "RGB"
    assert thumb.getpixel((128, 64)) == (255, 255, 255)


@pytest.mark.parametrize(("mode", "colour"), [("1", 1), ("P", 7), ("RGB", (30, 140, 200))])
def test_a_large_bmp_is_shrunk_a_strip_at_a_time(mode, colour):
    im = PILImage.new(mode, (3000, 2000), colour)
    if mode == "P":
        im.putpalette([0, 0, 0] * 7 + [30, 140, 200] + [0, 0, 0] * 248)
    out = io.BytesIO()
    im.save(out, "BMP")
    result = imaging.process(out.getvalue())
    thumb = PILImage.open(io.BytesIO(result.thumbnail))
    assert (result.width, result.height, thumb.size) == (3000, 2000, (256, 171))
    expected = {"1": (255, 255, 255)}.get(mode, (30, 140, 200))
    assert all(abs(a - b) <= 2 for a, b in zip(thumb.getpixel((128, 85)), expected, strict=True))


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP", "GIF", "BMP"])
def test_a_truncated_file_of_every_format_is_refused(fmt):
    out = io.BytesIO()
    PILImage.effect_noise((300, 200), 80).convert("RGB").save(out, fmt)
    data = out.getvalue()
    with pytest.raises(imaging.ImageRejected, match="damaged or truncated|not an image file"):
        imaging.process(data[: len(data) * 3 // 4])
