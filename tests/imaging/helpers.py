"""Sample files for the imaging tests: the shared real datasets and small images made in memory."""

from __future__ import annotations

import csv
import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset

MAX_PIXELS = 40_000_000
KEY = b"test-pseudonym-key-0123456789abcdef"


def datasets_dir() -> Path:
    configured = os.environ.get("IMAGING_AI_DATASETS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def dicom_samples_dir() -> Path:
    path = datasets_dir() / "dicom-samples"
    if not (path / "manifest.csv").is_file():
        raise RuntimeError(f"DICOM samples not found at {path}; set IMAGING_AI_DATASETS_DIR")
    return path


def dicom_manifest() -> list[dict[str, str]]:
    with (dicom_samples_dir() / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def dicom_image_rows() -> list[dict[str, str]]:
    """Manifest rows of the DICOM files that hold an image."""
    return [row for row in dicom_manifest() if row["rows"]]


def dicom_path(relative: str) -> Path:
    return dicom_samples_dir() / relative


def dicom_bytes(relative: str) -> bytes:
    return dicom_path(relative).read_bytes()


def read_dataset(relative: str) -> Dataset:
    return pydicom.dcmread(dicom_path(relative))


def to_bytes(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def edited(relative: str, edit: Callable[[Dataset], None]) -> bytes:
    """A sample DICOM file with `edit` applied to its data set."""
    dataset = read_dataset(relative)
    edit(dataset)
    return to_bytes(dataset)


def real_png() -> Path:
    return sorted((datasets_dir() / "cxr-nih-adult" / "images").rglob("*.png"))[0]


def real_jpeg() -> Path:
    return sorted((datasets_dir() / "cxr-guangzhou-pediatric" / "images").rglob("*.jpeg"))[0]


def png_bytes(array_or_image: np.ndarray | Image.Image) -> bytes:
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_with_header(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A PNG whose IHDR claims the given size, followed by a tiny image stream (valid or not)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def gradient(rows: int = 48, cols: int = 64, high: int = 255, dtype: type = np.uint8) -> np.ndarray:
    values = np.linspace(0, high, rows * cols).reshape(rows, cols)
    return np.rint(values).astype(dtype)
