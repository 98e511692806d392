"""apply_window: the DICOM PS3.3 C.11.2.1.2 LINEAR window, scaled to [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_ai.imaging import DecodedImage, apply_window, decode_image
from tests.imaging.helpers import MAX_PIXELS, dicom_bytes, png_bytes


def ramp_image() -> DecodedImage:
    values = np.arange(0, 65536, 16, dtype=np.uint16).reshape(64, 64)
    return decode_image(png_bytes(values), max_pixels=MAX_PIXELS)


def test_linear_window_matches_the_standard_formula() -> None:
    decoded = ramp_image()
    center, width = 20000.0, 4001.0
    x = decoded.pixels.astype(np.float64)
    # PS3.3 C.11.2.1.2.1 with y_min = 0, y_max = 1.
    expected = np.where(
        x <= center - 0.5 - (width - 1) / 2,
        0.0,
        np.where(x > center - 0.5 + (width - 1) / 2, 1.0, (x - (center - 0.5)) / (width - 1) + 0.5),
    )
    windowed = apply_window(decoded, center, width)
    assert windowed.dtype == np.float32
    assert windowed.shape == decoded.pixels.shape
    np.testing.assert_allclose(windowed, expected, atol=1e-6)


def test_window_edges() -> None:
    decoded = ramp_image()
    low, high = 1000.0, 2000.0  # pixel values 1008, 1024, ... sit on both sides
    windowed = apply_window(decoded, (low + high) / 2 + 0.5, high - low + 1)
    x = decoded.pixels
    assert (windowed[x <= low] == 0).all()
    assert (windowed[x >= high] == 1).all()
    between = (x > low) & (x < high)
    assert ((windowed[between] > 0) & (windowed[between] < 1)).all()


def test_width_one_is_a_threshold_and_small_widths_are_exact() -> None:
    decoded = ramp_image()
    threshold = apply_window(decoded, 1000.5, 1.0)
    np.testing.assert_array_equal(threshold, (decoded.pixels > 1000).astype(np.float32))
    narrow = apply_window(decoded, 1000.0, 0.5)  # LINEAR_EXACT below a width of 1
    expected = np.clip((decoded.pixels.astype(np.float64) - 1000.0) / 0.5 + 0.5, 0, 1)
    np.testing.assert_allclose(narrow, expected, atol=1e-6)


@pytest.mark.parametrize("width", [0.0, -1.0, float("nan")])
def test_non_positive_width_is_refused(width: float) -> None:
    with pytest.raises(ValueError, match="width"):
        apply_window(ramp_image(), 100.0, width)


def test_window_is_inverted_for_monochrome1() -> None:
    decoded = decode_image(dicom_bytes("cr_chest/RG1_UNCR.dcm"), max_pixels=MAX_PIXELS)
    assert decoded.invert
    windowed = apply_window(decoded, 15000.0, 30000.0)
    x = decoded.pixels.astype(np.float64)
    plain = np.clip((x - 14999.5) / 29999.0 + 0.5, 0, 1)
    np.testing.assert_allclose(windowed, 1.0 - plain, atol=1e-6)


def test_ct_soft_tissue_window_in_hounsfield_units() -> None:
    decoded = decode_image(dicom_bytes("ct/CT_small.dcm"), max_pixels=MAX_PIXELS)
    windowed = apply_window(decoded, 40.0, 400.0)
    assert (windowed[decoded.pixels <= -160.5] == 0).all()
    assert (windowed[decoded.pixels > 238.5] == 1).all()


def test_the_decoded_image_is_not_modified() -> None:
    decoded = ramp_image()
    before = decoded.display.copy()
    apply_window(decoded, 100.0, 50.0)
    np.testing.assert_array_equal(decoded.display, before)
    with pytest.raises(ValueError):
        decoded.pixels[0, 0] = 1.0  # read-only
