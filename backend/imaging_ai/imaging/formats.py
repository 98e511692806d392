"""Which kind of image a byte string is, from its content alone.

A file name or a client-declared media type is never trusted: both are easy to get wrong and
cost nothing to forge, while the decoders below only work on the right bytes.
"""

from __future__ import annotations

from enum import StrEnum

from imaging_ai.imaging.errors import ImageError


class ImageFormat(StrEnum):
    PNG = "png"
    JPEG = "jpeg"
    DICOM = "dicom"


MEDIA_TYPES: dict[ImageFormat, str] = {
    ImageFormat.PNG: "image/png",
    ImageFormat.JPEG: "image/jpeg",
    ImageFormat.DICOM: "application/dicom",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"
_DICOM_PREFIX_OFFSET = 128
_DICOM_PREFIX = b"DICM"

# Explicit VR codes (PS3.5 6.2): used to tell a bare DICOM data set from arbitrary bytes that
# happen to start with 02 00 or 08 00.
_EXPLICIT_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR "
    b"US UT UV".split()
)


def sniff_format(data: bytes) -> ImageFormat:
    """The format of `data` by its magic bytes; ImageError ``empty_file`` / ``unsupported_format``."""
    if not data:
        raise ImageError("empty_file", "The uploaded file is empty.")
    if data.startswith(_PNG_SIGNATURE):
        return ImageFormat.PNG
    if data.startswith(_JPEG_SOI):
        return ImageFormat.JPEG
    if data[_DICOM_PREFIX_OFFSET : _DICOM_PREFIX_OFFSET + 4] == _DICOM_PREFIX:
        return ImageFormat.DICOM
    if looks_like_bare_dicom(data):
        return ImageFormat.DICOM
    raise ImageError(
        "unsupported_format",
        "The file is not a PNG, JPEG or DICOM image.",
        {"supported": [fmt.value for fmt in ImageFormat]},
    )


def looks_like_bare_dicom(data: bytes) -> bool:
    """True when `data` starts like a DICOM stream that lacks the 128-byte preamble and ``DICM``.

    PS3.10 requires the preamble, but files without it are common in practice: older PACS exports
    and tools that dump what they received over the network write either the File Meta group
    (0002,xxxx) straight away or, with no File Meta at all, the data set itself, whose first
    element is nearly always in group 0008 (Specific Character Set, Image Type, SOP Class UID...).
    Both are little endian. To keep false positives rare the header after the tag must also parse:
    a valid explicit VR code, or an implicit-VR length that fits inside the file.
    """
    if len(data) < 8 or data[0:2] not in (b"\x02\x00", b"\x08\x00"):
        return False
    if data[4:6] in _EXPLICIT_VRS:
        return True
    # The File Meta group is always explicit VR, so only group 0008 may be implicit.
    if data[0:2] != b"\x08\x00":
        return False
    implicit_length = int.from_bytes(data[4:8], "little")
    return implicit_length <= len(data) - 8
