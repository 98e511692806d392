"""The size a compressed codestream declares, read from its header bytes before any decoder runs.

A decoder allocates what the codestream itself declares, not what the container says: a DICOM whose
Rows and Columns say 64 x 64 can carry a JPEG 2000 codestream that says 16000 x 16000, and the
decoder would allocate gigabytes before the mismatch is noticed. So the header of every codestream
(JPEG SOFn, JPEG-LS SOF55, JPEG 2000 SIZ, bare or inside a JP2 file's ``jp2c`` box) is parsed here,
with nothing but ``struct``, and judged against the limits before a decoder sees the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from imaging_ai.imaging.errors import ImageError

MAX_J2K_TILES = 4096
"""Most JPEG 2000 tiles accepted in one codestream. OpenJPEG keeps per-tile state (about 9 KB a tile
measured: 65,280 tiles of 1 x 1 cost 0.56 GB and 0.8 s to decode), so the tile count, not the pixel
count, bounds that cost. Real writers use one tile or tiles of 256 x 256 and up (a 40-megapixel image
in 256 x 256 tiles has 611); 4096 tiles cost about 35 MB of decoder state at most."""

MAX_COMPONENTS = 4
"""Grey, RGB or RGB + alpha / CMYK: decoders allocate a plane per component, so a codestream that
declares thousands of components multiplies the memory of an image that passes the pixel limit."""

# SOFn markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC), which share the range; JPEG-LS SOF55 (F7).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
# Markers without a length field: TEM, RSTn, SOI (EOI and SOS end the header search below).
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"


@dataclass(frozen=True)
class Codestream:
    kind: str
    """``jpeg``, ``jpeg-ls`` or ``jpeg2000``."""
    rows: int
    cols: int
    components: int
    tiles: int
    """JPEG 2000 tiles; 1 for JPEG and JPEG-LS."""


def is_codestream(data: bytes) -> bool:
    """True when `data` starts like a JPEG, JPEG-LS, JPEG 2000 codestream or a JP2 file."""
    return data.startswith((b"\xff\xd8", _J2K_SOC_SIZ, _JP2_SIGNATURE))


def read_codestream(data: bytes) -> Codestream:
    """The declared size of the codestream in `data`; ImageError ``corrupt_codestream`` when the
    header cannot be read (an unknown start, a cut-off header, zero tile sizes)."""
    try:
        if data.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if data.startswith(_J2K_SOC_SIZ):
            return _j2k(data, 0)
        if data.startswith(_JP2_SIGNATURE):
            return _j2k(data, _jp2c_offset(data))
    except (struct.error, IndexError) as exc:
        raise _corrupt("The compressed image header is cut off.") from exc
    raise _corrupt("The compressed image data is not a JPEG, JPEG-LS or JPEG 2000 codestream.")


def check_codestream(
    codestream: Codestream, *, max_pixels: int, expected: tuple[int, int] | None = None
) -> None:
    """Refuse, before decoding, a codestream whose declared size exceeds the limits or disagrees with
    the container's `expected` (rows, cols)."""
    pixels = codestream.rows * codestream.cols
    if codestream.rows == 0 or codestream.cols == 0:
        raise ImageError("zero_sized_image", "The image has no pixels (zero width or height).")
    if pixels > max_pixels:
        raise ImageError(
            "image_too_large",
            "The image has more pixels than this service decodes.",
            {"max_pixels": max_pixels, "pixels": pixels},
        )
    if codestream.components > MAX_COMPONENTS:
        raise ImageError(
            "too_many_components",
            "The compressed image declares more colour components than an image has.",
            {"max_components": MAX_COMPONENTS, "components": codestream.components},
        )
    if codestream.tiles > MAX_J2K_TILES:
        raise ImageError(
            "too_many_tiles",
            "The JPEG 2000 codestream is split into more tiles than this service decodes.",
            {"max_tiles": MAX_J2K_TILES, "tiles": codestream.tiles},
        )
    if expected is not None and (codestream.rows, codestream.cols) != expected:
        raise ImageError(
            "codestream_size_mismatch",
            "The compressed pixel data declares a size different from the DICOM Rows and Columns.",
            {
                "rows": expected[0],
                "cols": expected[1],
                "codestream_rows": codestream.rows,
                "codestream_cols": codestream.cols,
            },
        )


def _jpeg(data: bytes) -> Codestream:
    position = 2
    while position < len(data):
        if data[position] != 0xFF:
            raise _corrupt("The JPEG header is malformed.")
        while data[position] == 0xFF:  # fill bytes before a marker are allowed (T.81 B.1.1.2)
            position += 1
        marker = data[position]
        position += 1
        if marker in _STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):  # EOI or SOS before any frame header
            break
        (length,) = struct.unpack_from(">H", data, position)
        if marker in _SOF_MARKERS:
            _precision, height, width, components = struct.unpack_from(">BHHB", data, position + 2)
            if height == 0:
                # T.81 lets the height come later in a DNL marker; no decoder here needs that, and
                # accepting it would mean trusting a size known only after decoding.
                raise _corrupt("The JPEG frame header defers its height to a DNL marker.")
            return Codestream(
                kind="jpeg-ls" if marker == 0xF7 else "jpeg",
                rows=height,
                cols=width,
                components=components,
                tiles=1,
            )
        if length < 2:
            raise _corrupt("The JPEG header is malformed.")
        position += length
    raise _corrupt("The JPEG has no frame header.")


def _jp2c_offset(data: bytes) -> int:
    """Where the codestream inside a JP2 file's contiguous codestream box starts."""
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if length == 1:  # a 64-bit length follows
            (length,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif length == 0:  # the box runs to the end of the file
            length = len(data) - position
        if kind == b"jp2c":
            return position + header
        if length < header:
            break
        position += length
    raise _corrupt("The JP2 file has no codestream box.")


def _j2k(data: bytes, start: int) -> Codestream:
    if data[start : start + 4] != _J2K_SOC_SIZ:
        raise _corrupt("The JPEG 2000 codestream does not start with SOC and SIZ.")
    # SIZ (T.800 A.5.1): Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz.
    fields = struct.unpack_from(">HHIIIIIIIIH", data, start + 4)
    x_size, y_size, x_offset, y_offset, tile_width, tile_height, tile_x, tile_y, components = fields[2:]
    if tile_width == 0 or tile_height == 0 or x_offset > x_size or y_offset > y_size:
        raise _corrupt("The JPEG 2000 image and tile sizes are inconsistent.")
    if tile_x > x_offset or tile_y > y_offset:
        raise _corrupt("The JPEG 2000 image and tile sizes are inconsistent.")
    tiles_across = -(-(x_size - tile_x) // tile_width)
    tiles_down = -(-(y_size - tile_y) // tile_height)
    return Codestream(
        kind="jpeg2000",
        rows=y_size - y_offset,
        cols=x_size - x_offset,
        components=components,
        tiles=tiles_across * tiles_down,
    )


def _corrupt(message: str) -> ImageError:
    return ImageError("corrupt_codestream", message)
