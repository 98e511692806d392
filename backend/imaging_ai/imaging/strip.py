"""Strip PNG and JPEG files down to what their pixels need, without re-encoding.

DICOM has a de-identification profile; PNG and JPEG carry free text too: PNG text chunks
(tEXt/zTXt/iTXt), EXIF (eXIf, or APP1 in JPEG), XMP, ICC profile names, JPEG comments, bytes after
the end marker. Any of them may hold a patient's name, birth date or record number written by the
modality or the export tool, and the stored file is served back by ``GET /images/{id}/file``. So the
stored file keeps only the structural chunks and segments, copied byte for byte: the compressed
pixel data is untouched and decodes to exactly the same values.

Structure errors raise ``ImageError("corrupt_image")``, the code the decoder gives for the same files.
"""

from __future__ import annotations

import struct

from imaging_ai.imaging.errors import ImageError
from imaging_ai.imaging.formats import ImageFormat

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

PNG_KEPT_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"sBIT", b"IDAT", b"IEND"})
"""Critical chunks, plus the two ancillary ones that change what the samples mean: tRNS (which value or
palette entry is transparent) and sBIT (how many of the stored bits are significant). Both are numbers
only. Colour-management chunks (gAMA, cHRM, sRGB, iCCP) are dropped: the decoder ignores them, and an
ICC profile carries a free-text name."""

_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RST0..7 have no length field
_SOI, _EOI, _SOS, _COM = 0xD8, 0xD9, 0xDA, 0xFE
_APP0, _APP14, _APP15 = 0xE0, 0xEE, 0xEF
_JFIF_ID = b"JFIF\x00"
_ADOBE_ID = b"Adobe"


def strip_metadata(data: bytes, image_format: ImageFormat) -> bytes:
    """The file without metadata for PNG and JPEG; other formats are returned unchanged."""
    if image_format is ImageFormat.PNG:
        return strip_png(data)
    if image_format is ImageFormat.JPEG:
        return strip_jpeg(data)
    return data


def _corrupt() -> ImageError:
    return ImageError("corrupt_image", "The image file is truncated or corrupt.")


def strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise _corrupt()
    out = [_PNG_SIGNATURE]
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunk_type = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            raise _corrupt()
        if chunk_type in PNG_KEPT_CHUNKS:
            out.append(data[position:end])
        elif chunk_type[0:1].isupper():
            # A critical chunk we do not know: dropping it could change the pixels, keeping it could
            # keep text; no decoder of ours reads it anyway.
            raise _corrupt()
        position = end
        if chunk_type == b"IEND":
            # Anything after IEND (a common place to hide data) is not part of the image.
            return b"".join(out)
    raise _corrupt()


def strip_jpeg(data: bytes) -> bytes:
    if data[0:2] != b"\xff\xd8":
        raise _corrupt()
    out = [b"\xff\xd8"]
    position = 2
    size = len(data)
    while True:
        marker, position = _next_marker(data, position)
        if marker == _EOI:
            out.append(b"\xff\xd9")
            # Bytes after EOI are not part of the image.
            return b"".join(out)
        if marker in _JPEG_STANDALONE:
            out.append(bytes((0xFF, marker)))
            continue
        if marker == _SOI or position + 2 > size:
            raise _corrupt()
        (length,) = struct.unpack(">H", data[position : position + 2])
        end = position + length
        if length < 2 or end > size:
            raise _corrupt()
        payload = data[position + 2 : end]
        segment = _kept_segment(marker, payload)
        if segment is not None:
            out.append(segment)
        position = end
        if marker == _SOS:
            # The entropy-coded scan follows the SOS header up to the next marker that is not a
            # stuffed 0xFF00 or a restart marker; it is copied as is.
            scan_end = _scan_end(data, position)
            out.append(data[position:scan_end])
            position = scan_end


def _kept_segment(marker: int, payload: bytes) -> bytes | None:
    """The segment to write for ``marker`` (None: dropped)."""
    if marker == _COM:
        return None
    if _APP0 <= marker <= _APP15:
        if marker == _APP0 and payload.startswith(_JFIF_ID) and len(payload) >= 14:
            # JFIF says the three components are YCbCr; keep its version, units and density, but
            # not its embedded thumbnail (a small copy of the image is still the image, and is
            # not needed to decode it).
            return _segment(marker, payload[:12] + b"\x00\x00")
        if marker == _APP14 and payload.startswith(_ADOBE_ID) and len(payload) >= 12:
            # The Adobe transform flag tells RGB from YCbCr and CMYK from YCCK: needed for colours.
            return _segment(marker, payload[:12])
        return None  # EXIF, XMP, ICC, Photoshop IRB, vendor segments...
    return _segment(marker, payload)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _next_marker(data: bytes, position: int) -> tuple[int, int]:
    """The marker at ``position`` (fill bytes 0xFF allowed before it) and the position after it."""
    if position >= len(data) or data[position] != 0xFF:
        raise _corrupt()
    while position < len(data) and data[position] == 0xFF:
        position += 1
    if position >= len(data):
        raise _corrupt()
    return data[position], position + 1


def _scan_end(data: bytes, position: int) -> int:
    size = len(data)
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= size:
            raise _corrupt()
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position += 2
        elif following == 0xFF:
            position += 1  # a fill byte before a marker
        else:
            return position
