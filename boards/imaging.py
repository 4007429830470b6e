"""Image work for uploads: verify, orient, measure, hash and thumbnail one file.

Everything here is pure (a file in, values out) so it can run in worker
threads: Pillow and libvips release the GIL while they decode and resize,
which lets an upload use every core.

Memory follows the thumbnail, not the original. Pillow reads headers,
checks PNG chunk CRCs and decodes JPEG at 1/2, 1/4 or 1/8 scale (draft
mode); PNG and TIFF rows stream through libvips and are averaged down as
they come, and WebP is decoded by libwebp straight to a smaller scale, so a
10000×10000 PNG never exists in memory at full size. An uncompressed BMP is
read by Pillow a strip of rows at a time. GIF and run-length BMP can only be
decoded whole, at one byte a pixel (100 MB at the 100-megapixel limit); they
are converted to RGB a strip at a time.

A photo whose EXIF orientation (2–8) says it is to be shown turned is turned
upright here ("auto-orient"), with ``ImageOps.exif_transpose`` semantics, and
re-encoded in its own format without the orientation tag: the stored file,
its width and height and its thumbnail then agree for every program that
opens it, whether or not that program applies EXIF. That needs one full
decode of the picture.
"""

import errno
import hashlib
import io
import logging
import struct
import tempfile
import threading
from dataclasses import dataclass
from typing import BinaryIO

import pyvips
from django.conf import settings
from PIL import Image as PILImage
from PIL import ImageFile, ImageOps, JpegImagePlugin, UnidentifiedImageError

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

# libvips only ever sees a file Pillow has already identified as one of these
# formats, and may only use their loaders: no SVG, PDF or other loaders
# reachable by content sniffing. Its operation cache would keep decoded
# pixels of past uploads alive, so it is off.
_VIPS_FORMATS = {"PNG", "WEBP", "TIFF"}
pyvips.cache_set_max(0)
# Uploads run in a pool of threads already; one libvips thread per image
# keeps the per-image buffers few.
pyvips.concurrency_set(1)
logging.getLogger("pyvips").setLevel(logging.WARNING)
pyvips.block_untrusted_set(True)
pyvips.operation_block_set("VipsForeignLoad", True)
for _loader in ("VipsForeignLoadPng", "VipsForeignLoadWebp", "VipsForeignLoadTiff"):
    pyvips.operation_block_set(_loader, False)

ORIENTATION = 0x0112
_FULL_DECODES = threading.BoundedSemaphore(1)
_CHUNK = 1 << 20


class ImageRejected(Exception):
    """The file is not an image we can take; the message says why."""


class NoScratchSpace(Exception):
    """The server could not write the temporary file a turned photo needs (disk full, read-only)."""


@dataclass(frozen=True)
class ProcessedImage:
    sha256: str
    width: int
    height: int
    extension: str
    thumbnail: bytes
    # The file to store instead of the upload when its pixels were turned
    # upright (a temporary file, so that a request full of phone photos does
    # not hold them all in memory); None when the upload is stored as sent.
    oriented: BinaryIO | None = None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def process(source: bytes | BinaryIO, *, thumb_size: int | None = None) -> ProcessedImage:
    """Verify an image file (bytes or a seekable binary file) and make its thumbnail, or raise ImageRejected.

    The file is read in chunks and never held whole in memory, except that a
    photo turned upright is decoded in full and its new bytes written to a
    temporary file.
    """
    thumb_size = thumb_size or settings.THUMBNAIL_SIZE
    fp: BinaryIO = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    digest, size = _hash(fp)
    if not size:
        raise ImageRejected("The file is empty.")
    oriented = None
    try:
        fp.seek(0)
        im = PILImage.open(fp)
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
            fp.seek(0)
            im = PILImage.open(fp)
            _find_png_exif(im, fp)
        with im:
            if orientation_of(im) != 1:
                # Turning decodes the whole image and makes a turned copy: one
                # at a time per process, so that a burst of them (or of crafted
                # files) costs at most two copies of the largest allowed image.
                with _FULL_DECODES:
                    oriented, upright = _turn_upright(im, fmt, fp)
                    width, height = upright.size
                    thumb = _pillow_thumbnail(upright, _fit(width, height, thumb_size))
                    del upright
            elif fmt in _VIPS_FORMATS:
                box = _fit(width, height, thumb_size)
                thumb = _vips_thumbnail(source if isinstance(source, bytes) else fp, fmt, box)
            else:
                thumb = _pillow_thumbnail(im, _fit(width, height, thumb_size))
    except ImageRejected:
        raise
    except PILImage.DecompressionBombError:
        raise ImageRejected("The image has too many pixels to open safely (a decompression bomb?).") from None
    except UnidentifiedImageError:
        raise ImageRejected("This is not an image file Batchboard can read.") from None
    except pyvips.Error as exc:
        raise ImageRejected(_damaged(exc.detail or exc.message)) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise ImageRejected(_damaged(str(exc))) from None
    return ProcessedImage(
        sha256=digest,
        width=width,
        height=height,
        extension=ACCEPTED_FORMATS[fmt],
        thumbnail=thumb,
        oriented=oriented,
    )


def orientation_of(im: PILImage.Image) -> int:
    """The EXIF orientation (1–8) Pillow's ``exif_transpose`` would apply, without decoding the pixels."""
    # PngImageFile.getexif() decodes the whole image to look for a late eXIf
    # chunk; _find_png_exif has looked already, so skip to the base method.
    value = PILImage.Image.getexif(im).get(ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def read_orientation(fp: BinaryIO) -> tuple[int, tuple[int, int]]:
    """A stored file's EXIF orientation and its size as stored, from its headers (the pixels stay undecoded)."""
    fp.seek(0)
    with PILImage.open(fp) as im:
        if im.format == "PNG":
            _find_png_exif(im, fp)
        return orientation_of(im), im.size


def _hash(fp: BinaryIO) -> tuple[str, int]:
    fp.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := fp.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _find_png_exif(im: PILImage.Image, fp: BinaryIO) -> None:
    """Put an eXIf chunk written after the pixel data into ``im.info``, as decoding would."""
    if "exif" in im.info:
        return
    fp.seek(8)
    while len(head := fp.read(8)) == 8:
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            break
        if kind == b"eXIf" and length <= _CHUNK:
            im.info["exif"] = b"Exif\x00\x00" + fp.read(length)
            break
        fp.seek(length + 4, io.SEEK_CUR)


def _turn_upright(im: ImageFile.ImageFile, fmt: str, fp: BinaryIO) -> tuple[BinaryIO, PILImage.Image]:
    """Decode, transpose as the EXIF orientation says, and encode again in the same format."""
    sampling = JpegImagePlugin.get_sampling(im) if fmt in ("JPEG", "MPO") else -1
    im.load()
    upright = ImageOps.exif_transpose(im)
    options = {key: upright.info[key] for key in ("icc_profile", "dpi") if upright.info.get(key)}
    exif = upright.getexif()
    exif.pop(ORIENTATION, None)
    if exif:
        options["exif"] = exif
    if fmt in ("JPEG", "MPO"):
        fmt = "JPEG"
        options.update(quality=95)
        if sampling != -1:
            options["subsampling"] = sampling
        if upright.info.get("xmp"):
            options["xmp"] = upright.info["xmp"]
    elif fmt == "WEBP":
        if _webp_is_lossless(fp):
            options["lossless"] = True
        else:
            options["quality"] = 95
    elif fmt == "TIFF":
        options["compression"] = im.info.get("compression", "raw")
    try:
        out = tempfile.TemporaryFile()  # noqa: SIM115 - the caller stores it; closed when collected
        upright.save(out, fmt, **options)
        out.flush()
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EMFILE, errno.ENFILE):
            raise
        raise NoScratchSpace(exc.strerror or str(exc)) from exc
    out.seek(0)
    return out, upright


def _webp_is_lossless(fp: BinaryIO) -> bool:
    """Whether a WebP file's image is a lossless (VP8L) bitstream.

    A WebP with EXIF is an extended file (VP8X) whose image chunk follows its
    metadata chunks, so walk the RIFF chunks to the first VP8 or VP8L one.
    """
    fp.seek(12)
    for _ in range(64):
        head = fp.read(8)
        if len(head) < 8:
            return False
        kind, size = head[:4], struct.unpack("<I", head[4:])[0]
        if kind in (b"VP8L", b"VP8 "):
            return kind == b"VP8L"
        fp.seek(size + (size & 1), io.SEEK_CUR)
    return False


def _pillow_thumbnail(im: PILImage.Image, box: tuple[int, int]) -> bytes:
    im.seek(0)  # GIF, TIFF: the first frame
    if im.format in ("JPEG", "MPO"):
        # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT data.
        im.draft("RGB", box)
    if im.format == "BMP" and _bmp_in_strips_possible(im):
        reduced = _bmp_reduced(im, box)
    else:
        # Decoding the whole file is what finds truncated or corrupt data.
        im.load()
        reduced = _reduce_in_strips(im, box)
    thumb = reduced.resize(box, PILImage.Resampling.BILINEAR)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80, optimize=False)
    return out.getvalue()


def _factor(size: tuple[int, int], box: tuple[int, int]) -> int:
    """The integer shrink that leaves the picture at least three times the box (as ``reducing_gap=3``)."""
    return max(1, min(size[0] // (box[0] * 3), size[1] // (box[1] * 3)))


def _reduce_in_strips(im: PILImage.Image, box: tuple[int, int]) -> PILImage.Image:
    """An RGB copy shrunk by an integer factor, converted a strip at a time.

    A 1-bit or palette image takes four times the memory once RGB.
    """
    factor = _factor(im.size, box)
    if factor == 1:
        return im.convert("RGB") if im.mode != "RGB" else im
    width, height = im.size
    out = PILImage.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, _CHUNK // (width * factor))
    for top in range(0, height, rows):
        strip = im.crop((0, top, width, min(height, top + rows)))
        out.paste(strip.convert("RGB").reduce(factor), (0, top // factor))
    return out


def _bmp_in_strips_possible(im: ImageFile.ImageFile) -> bool:
    return len(im.tile) == 1 and im.tile[0].codec_name == "raw" and im.tile[0].extents == (0, 0) + im.size


def _bmp_reduced(im: ImageFile.ImageFile, box: tuple[int, int]) -> PILImage.Image:
    """Decode an uncompressed BMP a strip of rows at a time, shrinking each strip as it comes."""
    tile = im.tile[0]
    rawmode, stride, direction = tile.args
    width, height = im.size
    factor = _factor(im.size, box)
    out = PILImage.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, _CHUNK // (width * factor))
    for top in range(0, height, rows):
        count = min(rows, height - top)
        # Rows are stored bottom-up when direction is -1.
        first = height - top - count if direction < 0 else top
        im.fp.seek(tile.offset + first * stride)
        data = im.fp.read(count * stride)
        if len(data) < count * stride:
            raise OSError("image file is truncated")
        strip = PILImage.frombuffer(im.mode, (width, count), data, "raw", rawmode, stride, direction)
        if im.palette is not None and im.mode == "P":
            strip.putpalette(im.palette)
        strip = strip.convert("RGB")
        out.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    return out


def _vips_thumbnail(source: bytes | BinaryIO, fmt: str, box: tuple[int, int]) -> bytes:
    """Shrink while decoding: memory follows the thumbnail, not the original."""
    if isinstance(source, bytes):
        stream = pyvips.Source.new_from_memory(source)
    elif hasattr(source, "temporary_file_path"):
        stream = pyvips.Source.new_from_file(source.temporary_file_path())
    else:
        source.seek(0)
        stream = pyvips.SourceCustom()
        stream.on_read(source.read)
        stream.on_seek(source.seek)
    if fmt == "WEBP":
        # libwebp decodes straight to a smaller scale.
        thumb = pyvips.Image.thumbnail_source(
            stream, box[0], height=box[1], size="force", no_rotate=True, fail_on="error"
        )
    else:
        # Rows stream in and are averaged down as they come; only the
        # shrunk picture is ever whole in memory.
        im = pyvips.Image.new_from_source(stream, "", access="sequential", fail_on="error")
        factor = _factor((im.width, im.height), box)
        thumb = (im.shrink(factor, factor) if factor > 1 else im).copy_memory()
        thumb = thumb.resize(box[0] / thumb.width, vscale=box[1] / thumb.height)
    if thumb.hasalpha():
        thumb = thumb.flatten()
    if thumb.interpretation != "srgb" or thumb.format != "uchar":
        thumb = thumb.colourspace("srgb").cast("uchar")
    return thumb.jpegsave_buffer(Q=80, keep="none")


def _fit(width: int, height: int, size: int) -> tuple[int, int]:
    scale = min(size / width, size / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


# What the decoders say (Pillow's "image file is truncated (33 bytes not
# processed)", libvips's "Read error at scanline 90") in words a person can act on.
_CUT_SHORT = ("truncated", "not processed", "read error", "premature end", "unexpected end", "end of file", "eof")
_CORRUPT = ("checksum", "crc", "broken", "corrupt", "invalid", "bad ")


def _damaged(reason: str) -> str:
    reason = reason.lower()
    if any(words in reason for words in _CUT_SHORT):
        what = "the file ends before the picture does, as when a copy or download stops early"
        advice = "Upload the complete file again."
    elif any(words in reason for words in _CORRUPT):
        what = "part of its data is corrupt"
        advice = "Copy or export it again from the original."
    else:
        what = "its picture data cannot be read"
        advice = "Check that it opens in an image viewer, then export it again."
    return f"The image is damaged or truncated: {what}. {advice}"


def _too_large(width: int, height: int) -> str:
    limit = settings.MAX_IMAGE_PIXELS / 1_000_000
    return f"The image is {width}×{height} pixels, over the limit of {limit:g} megapixels (a decompression bomb?)."
