"""render_png: an 8-bit greyscale PNG of the default display or a window, optionally shrunk."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imaging_ai.imaging import DecodedImage, apply_window, decode_image, render_png
from tests.imaging.helpers import MAX_PIXELS, dicom_bytes, gradient, png_bytes


def decode(data: bytes) -> DecodedImage:
    return decode_image(data, max_pixels=MAX_PIXELS)


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image


def test_default_display_at_full_size() -> None:
    decoded = decode(dicom_bytes("cr_chest/RG1_UNCR.dcm"))
    image = open_png(render_png(decoded))
    assert image.mode == "L"
    assert image.size == (decoded.metadata.cols, decoded.metadata.rows)
    np.testing.assert_array_equal(np.asarray(image), np.rint(decoded.display * 255).astype(np.uint8))


def test_window_is_applied() -> None:
    decoded = decode(dicom_bytes("ct/CT_small.dcm"))
    image = open_png(render_png(decoded, window=(40.0, 400.0)))
    expected = np.rint(apply_window(decoded, 40.0, 400.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(image), expected)
    assert not np.array_equal(np.asarray(image), np.asarray(open_png(render_png(decoded))))


@pytest.mark.parametrize(
    ("rows", "cols", "max_size", "expected"),
    [
        (1955, 1841, 512, (482, 512)),  # (width, height): the longer side becomes 512
        (100, 400, 200, (200, 50)),
        (48, 64, 1000, (64, 48)),  # never enlarged
        (48, 64, 64, (64, 48)),
        (1, 300, 10, (10, 1)),  # a side never reaches zero
    ],
)
def test_max_size_keeps_the_aspect_ratio(
    rows: int, cols: int, max_size: int, expected: tuple[int, int]
) -> None:
    if (rows, cols) == (1955, 1841):
        decoded = decode(dicom_bytes("cr_chest/RG1_UNCR.dcm"))
    else:
        decoded = decode(png_bytes(gradient(rows, cols)))
    image = open_png(render_png(decoded, max_size=max_size))
    assert image.size == expected
    assert image.mode == "L"


def test_shrunk_image_looks_like_the_original() -> None:
    decoded = decode(png_bytes(gradient(256, 256)))
    small = np.asarray(open_png(render_png(decoded, max_size=64)), dtype=np.float64)
    reference = np.asarray(
        Image.fromarray(gradient(256, 256)).resize((64, 64), Image.Resampling.BOX), dtype=np.float64
    )
    assert np.abs(small - reference).mean() < 2.0


def test_invalid_max_size() -> None:
    with pytest.raises(ValueError, match="max_size"):
        render_png(decode(png_bytes(gradient())), max_size=0)


def test_rendering_is_deterministic() -> None:
    decoded = decode(dicom_bytes("mr/MR_small.dcm"))
    assert render_png(decoded, max_size=32) == render_png(decoded, max_size=32)
