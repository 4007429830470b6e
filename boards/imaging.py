"""Pillow work for uploads: verify, measure, hash and thumbnail one file.

Everything here is pure (bytes in, values out) so it can run in worker
threads: Pillow releases the GIL while it decodes and resizes, which lets an
upload use every core.
"""

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

ACCEPTED_FORMATS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "BMP": "bmp",
    "TIFF": "tif",
    "GIF": "gif",
}

# Pillow refuses images over twice this at open; we refuse anything over it.
PILImage.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS


class ImageRejected(Exception):
    """The file is not an image we can take; the message says why."""


@dataclass(frozen=True)
class ProcessedImage:
    sha256: str
    width: int
    height: int
    extension: str
    thumbnail: bytes


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def process(data: bytes, *, thumb_size: int | None = None) -> ProcessedImage:
    """Verify an image file and make its thumbnail, or raise ImageRejected."""
    thumb_size = thumb_size or settings.THUMBNAIL_SIZE
    if not data:
        raise ImageRejected("The file is empty.")
    digest = sha256_of(data)
    try:
        im = PILImage.open(io.BytesIO(data))
        fmt = im.format
        if fmt not in ACCEPTED_FORMATS:
            raise ImageRejected(f"{fmt or 'This'} files are not supported; use JPEG, PNG, WebP, BMP, TIFF or GIF.")
        width, height = im.size
        if width * height > settings.MAX_IMAGE_PIXELS:
            raise ImageRejected(_too_large(width, height))
        if fmt == "PNG":
            # Only PNG's verify() checks anything (its chunk CRCs); it leaves
            # the image unusable, so open it again to decode.
            im.verify()
            im = PILImage.open(io.BytesIO(data))
        with im:
            im.seek(0)  # GIF, TIFF: the first frame
            box = _fit(width, height, thumb_size)
            if fmt in ("JPEG", "MPO"):
                # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT data.
                im.draft("RGB", box)
            # Decoding the whole file is what finds truncated or corrupt data.
            im.load()
            thumb = im.convert("RGB") if im.mode != "RGB" else im
            thumb = thumb.resize(box, PILImage.Resampling.BILINEAR, reducing_gap=3.0)
            out = io.BytesIO()
            thumb.save(out, "JPEG", quality=80, optimize=False)
    except ImageRejected:
        raise
    except PILImage.DecompressionBombError:
        raise ImageRejected("The image has too many pixels to open safely (a decompression bomb?).") from None
    except UnidentifiedImageError:
        raise ImageRejected("This is not an image file Batchboard can read.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(f"The image is damaged or truncated ({exc}).") from None
    return ProcessedImage(
        sha256=digest,
        width=width,
        height=height,
        extension=ACCEPTED_FORMATS[fmt],
        thumbnail=out.getvalue(),
    )


def _fit(width: int, height: int, size: int) -> tuple[int, int]:
    scale = min(size / width, size / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _too_large(width: int, height: int) -> str:
    limit = settings.MAX_IMAGE_PIXELS / 1_000_000
    return f"The image is {width}×{height} pixels, over the limit of {limit:g} megapixels (a decompression bomb?)."
