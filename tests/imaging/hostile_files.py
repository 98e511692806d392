"""PNG and JPEG files that carry patient data in their metadata, made in memory (never committed)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

PATIENT_TEXT = ("DOE^JOHN", "19610402", "MRN-7734521")
"""What a modality or an export tool writes into a file's metadata: name, birth date, record number."""

_ICC = b"\x00\x00\x02\x0cDOE^JOHN icc profile description MRN-7734521" + b"\x00" * 64
_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description PatientName="DOE^JOHN" '
    b'BirthDate="19610402" MRN="MRN-7734521"/></rdf:RDF></x:xmpmeta>'
)


def pixels(mode: str, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A deterministic image with structure in both directions (not a flat field)."""
    rows, cols = size[1], size[0]
    y, x = np.mgrid[0:rows, 0:cols]
    if mode == "I;16":
        return Image.fromarray(((x * 997 + y * 113) % 65536).astype(np.uint16))
    grey = (x * 7 + y * 13) % 256
    if mode == "L":
        return Image.fromarray(grey.astype(np.uint8))
    rgb = np.stack([grey, (grey * 3) % 256, 255 - grey], axis=-1).astype(np.uint8)
    image = Image.fromarray(rgb)
    return image if mode == "RGB" else image.convert(mode)


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "PatientName DOE^JOHN born 19610402 MRN-7734521"  # ImageDescription
    exif[0x013B] = "DOE^JOHN"  # Artist
    return exif.tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def hostile_png(mode: str = "L", *, transparency: int | None = None) -> bytes:
    """A PNG with the patient in tEXt, zTXt, iTXt, eXIf, iCCP, tIME, a private chunk and after IEND."""
    info = PngImagePlugin.PngInfo()
    info.add_text("PatientName", "DOE^JOHN")
    info.add_text("PatientBirthDate", "19610402", zip=True)
    info.add_itxt("PatientID", "MRN-7734521", lang="en", tkey="Patient")
    image = pixels(mode)
    buffer = io.BytesIO()
    options: dict[str, object] = {"pnginfo": info, "exif": _exif(), "icc_profile": _ICC}
    if transparency is not None:
        options["transparency"] = transparency
    image.save(buffer, format="PNG", **options)
    data = buffer.getvalue()
    # Pillow does not write tIME or private chunks: insert them after IHDR by hand.
    ihdr_end = 8 + 12 + 13
    extra = _chunk(b"tIME", struct.pack(">HBBBBB", 2026, 11, 27, 9, 30, 1)) + _chunk(
        b"prVt", b"PatientName=DOE^JOHN;MRN-7734521"
    )
    return data[:ihdr_end] + extra + data[ihdr_end:] + b"DOE^JOHN 19610402 MRN-7734521"


def hostile_jpeg(mode: str = "L", **save_options: object) -> bytes:
    """A JPEG with the patient in EXIF (APP1), XMP (APP1), ICC (APP2), a comment, a vendor APP
    segment, a JFIF thumbnail and after EOI."""
    buffer = io.BytesIO()
    pixels(mode).save(
        buffer,
        format="JPEG",
        quality=90,
        exif=_exif(),
        icc_profile=_ICC,
        comment="PatientName DOE^JOHN 19610402 MRN-7734521",
        xmp=_XMP,
        **save_options,
    )
    data = buffer.getvalue()
    payload = b"VENDOR DOE^JOHN 19610402 MRN-7734521"
    vendor = b"\xff\xe9" + struct.pack(">H", 2 + len(payload)) + payload
    if data[6:11] != b"JFIF\x00":  # CMYK: Adobe APP14 instead of JFIF
        return data[:2] + vendor + data[2:] + b"DOE^JOHN 19610402 MRN-7734521"
    jfif_end = 4 + struct.unpack(">H", data[4:6])[0]
    # A JFIF header with a 3x1 RGB thumbnail whose "pixels" spell the patient's name.
    jfif = data[6:18] + b"\x03\x01" + b"DOE^JOHN!"
    jfif_segment = b"\xff\xe0" + struct.pack(">H", 2 + len(jfif)) + jfif
    return data[:2] + jfif_segment + vendor + data[jfif_end:] + b"DOE^JOHN 19610402 MRN-7734521"
