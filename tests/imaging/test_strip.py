"""PNG and JPEG metadata is stripped without touching the compressed pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imaging_ai.imaging import ImageError, ImageFormat, decode_image
from imaging_ai.imaging.strip import strip_jpeg, strip_metadata, strip_png
from tests.imaging.helpers import MAX_PIXELS
from tests.imaging.hostile_files import PATIENT_TEXT, hostile_jpeg, hostile_png


def _assert_no_patient_text(data: bytes) -> None:
    for text in PATIENT_TEXT:
        assert text.encode() not in data
    # Compressed text (zTXt, iCCP) would not show as plain bytes: no chunk or segment may survive.
    assert b"zTXt" not in data and b"iCCP" not in data and b"Exif" not in data and b"ICC_PROFILE" not in data


def _same_pixels(original: bytes, stripped: bytes) -> None:
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(stripped)) as b:
        assert (a.mode, a.size) == (b.mode, b.size)
        assert np.array_equal(np.asarray(a), np.asarray(b))
    ours_a = decode_image(original, max_pixels=MAX_PIXELS)
    ours_b = decode_image(stripped, max_pixels=MAX_PIXELS)
    assert np.array_equal(ours_a.pixels, ours_b.pixels)


@pytest.mark.parametrize("mode", ["L", "I;16", "RGB", "RGBA", "P"])
def test_png_keeps_only_the_chunks_the_pixels_need(mode: str) -> None:
    original = hostile_png(mode)
    assert all(text.encode() in original for text in ("DOE^JOHN", "MRN-7734521"))
    stripped = strip_png(original)
    _assert_no_patient_text(stripped)
    for chunk in (b"tEXt", b"iTXt", b"eXIf", b"tIME", b"prVt"):
        assert chunk not in stripped
    assert stripped.endswith(b"IEND\xaeB`\x82")  # nothing after IEND
    _same_pixels(original, stripped)


def test_png_transparency_survives() -> None:
    original = hostile_png("L", transparency=7)
    stripped = strip_png(original)
    assert b"tRNS" in stripped
    with Image.open(io.BytesIO(stripped)) as image:
        assert image.info["transparency"] == 7
    _same_pixels(original, stripped)


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("L", {}),
        ("RGB", {}),
        ("RGB", {"progressive": True}),
        ("RGB", {"subsampling": 0}),
        ("CMYK", {}),  # Pillow writes an Adobe APP14 segment: its transform flag must stay
    ],
)
def test_jpeg_loses_app_and_comment_segments_but_not_a_pixel(mode: str, options: dict[str, object]) -> None:
    original = hostile_jpeg(mode, **options)
    assert b"DOE^JOHN" in original and b"Exif" in original and b"ICC_PROFILE" in original
    stripped = strip_jpeg(original)
    _assert_no_patient_text(stripped)
    assert b"http://ns.adobe.com/xap" not in stripped and b"VENDOR" not in stripped
    assert stripped.endswith(b"\xff\xd9")
    _same_pixels(original, stripped)
    with Image.open(io.BytesIO(stripped)) as image:
        assert "comment" not in image.info and "exif" not in image.info and "icc_profile" not in image.info
        assert ("adobe" in image.info) == (mode == "CMYK")


def test_jpeg_restart_markers_are_copied() -> None:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(hostile_jpeg("RGB"))).save(buffer, format="JPEG", restart_marker_blocks=1)
    original = buffer.getvalue()
    assert b"\xff\xd0" in original
    _same_pixels(original, strip_jpeg(original))


def test_stripping_is_idempotent_and_leaves_dicom_alone() -> None:
    once = strip_metadata(hostile_png("L"), ImageFormat.PNG)
    assert strip_metadata(once, ImageFormat.PNG) == once
    jpeg = strip_metadata(hostile_jpeg("L"), ImageFormat.JPEG)
    assert strip_metadata(jpeg, ImageFormat.JPEG) == jpeg
    assert strip_metadata(b"\x00" * 132, ImageFormat.DICOM) == b"\x00" * 132


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR",  # chunk runs past the end
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00QQQQ\x00\x00\x00\x00",  # unknown critical chunk
        b"\x89PNG\r\n\x1a\n",  # no IEND
    ],
)
def test_broken_png_structure_is_refused_as_corrupt(data: bytes) -> None:
    with pytest.raises(ImageError) as caught:
        strip_png(data)
    assert caught.value.code == "corrupt_image"


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe1\x00\x40abc",  # segment runs past the end
        b"\xff\xd8\xff\xda\x00\x02\x12\x34",  # scan without an end
        b"\xff\xd8\x00",  # no marker where one must be
    ],
)
def test_broken_jpeg_structure_is_refused_as_corrupt(data: bytes) -> None:
    with pytest.raises(ImageError) as caught:
        strip_jpeg(data)
    assert caught.value.code == "corrupt_image"
