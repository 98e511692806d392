"""Generators of hostile and large images: small files that declare or hold very many pixels.

The codestream headers are written byte by byte (T.81 SOF0, T.800 SIZ): a bomb must be refused from
its header alone, so nothing after the header is needed, and no encoder could be asked for one.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, JPEG2000Lossless, JPEGBaseline8Bit, generate_uid


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_header(width: int, height: int, *, components: int = 1) -> bytes:
    """SOI, an APP0 JFIF segment, a baseline SOF0 declaring width x height, a stub SOS and EOI."""
    app0 = _segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    frame = struct.pack(">BHHB", 8, height, width, components)
    frame += b"".join(struct.pack(">BBB", index + 1, 0x11, 0) for index in range(components))
    scan = _segment(0xDA, struct.pack(">B", 1) + b"\x01\x00" + b"\x00\x3f\x00")
    return b"\xff\xd8" + app0 + _segment(0xC0, frame) + scan + b"\x00" * 64 + b"\xff\xd9"


def j2k_header(width: int, height: int, *, tile: tuple[int, int] | None = None, components: int = 1) -> bytes:
    """SOC and a SIZ marker segment declaring width x height in tiles of `tile` (default: one tile),
    then a stub COD, an empty tile-part and EOC."""
    tile_width, tile_height = tile or (width, height)
    siz = struct.pack(">HIIIIIIIIH", 0, width, height, 0, 0, tile_width, tile_height, 0, 0, components)
    siz += b"".join(struct.pack(">BBB", 7, 1, 1) for _ in range(components))
    cod = _segment(0x52, bytes([0, 0, 0, 1, 0, 5, 4, 4, 0, 0]))
    return b"\xff\x4f" + _segment(0x51, siz) + cod + b"\xff\x90" + b"\x00" * 10 + b"\xff\xd9"


def jp2_file(codestream: bytes) -> bytes:
    """A JP2 file around `codestream`: signature, file type, and the contiguous codestream box."""
    signature = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
    file_type = struct.pack(">I4s4sI4s", 20, b"ftyp", b"jp2 ", 0, b"jp2 ")
    return signature + file_type + struct.pack(">I4s", 8 + len(codestream), b"jp2c") + codestream


def dicom_with_frame(frame: bytes, syntax: UID, *, rows: int = 64, cols: int = 64) -> bytes:
    """A DX DICOM whose header says rows x cols and whose encapsulated Pixel Data is `frame`."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.1.1")
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    dataset = FileDataset("bomb.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    dataset.Rows, dataset.Columns = rows, cols
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 8, 8, 7, 0
    dataset.PixelData = encapsulate([frame])
    dataset["PixelData"].VR = "OB"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def dicom_j2k_bomb(side: int = 16000) -> bytes:
    """About 3 KB: a 64 x 64 DICOM whose JPEG 2000 codestream declares side x side."""
    return dicom_with_frame(j2k_header(side, side), JPEG2000Lossless)


def dicom_jpeg_bomb(side: int = 16000) -> bytes:
    return dicom_with_frame(jpeg_header(side, side), JPEGBaseline8Bit)


def j2k_tile_bomb() -> bytes:
    """A 256 x 255 JPEG 2000 cut into 1 x 1 tiles (65,280 tiles), in a DICOM of the same size."""
    return dicom_with_frame(j2k_header(256, 255, tile=(1, 1)), JPEG2000Lossless, rows=255, cols=256)


def large_png(side: int = 6300, variant: int = 0) -> bytes:
    """A legal image just under the 40-megapixel limit that compresses to tens of kilobytes; each
    `variant` is different bytes (uploads of identical bytes would be deduplicated, not decoded)."""
    rows = np.linspace(0, 255, side, dtype=np.float64).astype(np.uint8)
    array = np.repeat(rows[:, None], side, axis=1)
    array[0, : variant + 1] = 255 - array[0, 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))
