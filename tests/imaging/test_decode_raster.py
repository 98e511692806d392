"""PNG and JPEG decoding through the canonical path."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imaging_ai.imaging import DecodedImage, ImageFormat, apply_window, decode_image
from tests.imaging.helpers import MAX_PIXELS, gradient, jpeg_bytes, png_bytes, real_jpeg, real_png


def decode(data: bytes) -> DecodedImage:
    return decode_image(data, max_pixels=MAX_PIXELS)


def test_8bit_greyscale_png() -> None:
    values = gradient()
    decoded = decode(png_bytes(values))
    meta = decoded.metadata
    assert (meta.format, meta.media_type) == (ImageFormat.PNG, "image/png")
    assert (meta.rows, meta.cols) == values.shape
    assert (meta.bits_stored, meta.photometric) == (8, "MONOCHROME2")
    assert (meta.modality, meta.body_part, meta.pixel_spacing_mm) == (None, None, None)
    assert (meta.number_of_frames, meta.frame_index) == (1, 0)
    np.testing.assert_array_equal(decoded.pixels, values)
    np.testing.assert_allclose(decoded.display, values / 255.0, atol=1e-7)
    assert decoded.default_window == (128.0, 256.0)
    assert not decoded.invert
    np.testing.assert_allclose(apply_window(decoded, *decoded.default_window), decoded.display, atol=1e-6)


def test_8bit_display_is_not_stretched() -> None:
    # A dim image stays dim: 8-bit samples have a fixed meaning, unlike 16-bit PNG samples.
    values = gradient(high=100)
    np.testing.assert_allclose(decode(png_bytes(values)).display, values / 255.0, atol=1e-7)


def test_16bit_png_keeps_full_precision() -> None:
    values = gradient(high=65535, dtype=np.uint16)
    values[0, :4] = [1, 257, 4095, 65534]
    decoded = decode(png_bytes(values))
    assert decoded.metadata.bits_stored == 16
    assert decoded.metadata.photometric == "MONOCHROME2"
    np.testing.assert_array_equal(decoded.pixels, values)


def test_16bit_png_displays_its_own_range() -> None:
    values = gradient(high=4095, dtype=np.uint16) + 100  # a 12-bit detector exported as 16-bit
    decoded = decode(png_bytes(values))
    assert decoded.display.min() == 0.0
    assert decoded.display.max() == 1.0
    np.testing.assert_allclose(decoded.display, (values - 100.0) / 4095.0, atol=1e-6)
    np.testing.assert_allclose(apply_window(decoded, *decoded.default_window), decoded.display, atol=1e-6)


@pytest.mark.filterwarnings("error")
def test_constant_16bit_png_displays_black() -> None:
    decoded = decode(png_bytes(np.full((20, 30), 1234, dtype=np.uint16)))
    assert (decoded.display == 0).all()
    assert (decoded.pixels == 1234).all()


def test_grey_content_in_colour_modes_equals_the_greyscale_version() -> None:
    values = gradient()
    reference = decode(png_bytes(values))
    grey = Image.fromarray(values)
    variants = {
        "RGB": grey.convert("RGB"),
        "RGBA": grey.convert("RGBA"),
        "LA": grey.convert("LA"),
        "P": grey.convert("RGB").quantize(256),
    }
    for mode, image in variants.items():
        decoded = decode(png_bytes(image))
        if mode != "P":  # quantising may merge a few grey levels
            np.testing.assert_array_equal(decoded.pixels, reference.pixels, err_msg=mode)
            np.testing.assert_array_equal(decoded.display, reference.display, err_msg=mode)
        assert decoded.metadata.bits_stored == 8
    assert decode(png_bytes(variants["RGB"])).metadata.photometric == "RGB"
    assert decode(png_bytes(variants["LA"])).metadata.photometric == "MONOCHROME2"


def test_palette_png_with_grey_palette_is_exact() -> None:
    values = (np.arange(64 * 64) % 256).astype(np.uint8).reshape(64, 64)
    image = Image.fromarray(values).convert("P")  # Pillow's default for L -> P is the grey palette
    assert image.mode == "P"
    np.testing.assert_array_equal(decode(png_bytes(image)).pixels, values)


def test_colour_png_becomes_bt601_luma() -> None:
    rgb = np.random.default_rng(3).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    decoded = decode(png_bytes(rgb))
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(decoded.pixels, luma, atol=1e-3)
    assert decoded.metadata.photometric == "RGB"


def test_bilevel_png() -> None:
    values = (gradient() > 127).astype(np.uint8) * 255
    decoded = decode(png_bytes(Image.fromarray(values).convert("1")))
    np.testing.assert_array_equal(decoded.pixels, values)


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_jpeg_modes(mode: str) -> None:
    values = gradient(rows=64, cols=80)
    image = Image.fromarray(values).convert(mode)
    decoded = decode(jpeg_bytes(image))
    meta = decoded.metadata
    assert (meta.format, meta.media_type) == (ImageFormat.JPEG, "image/jpeg")
    assert (meta.rows, meta.cols, meta.bits_stored) == (64, 80, 8)
    assert meta.photometric == ("MONOCHROME2" if mode == "L" else "RGB")
    # Lossy, but the same picture.
    assert float(np.abs(decoded.pixels - values).mean()) < 3.0


def test_real_chest_xrays() -> None:
    for path in (real_png(), real_jpeg()):
        data = path.read_bytes()
        with Image.open(path) as image:
            width, height = image.size
        decoded = decode(data)
        assert (decoded.metadata.rows, decoded.metadata.cols) == (height, width)
        assert 0.0 <= decoded.display.min() < decoded.display.max() <= 1.0
        assert decoded.pixels.std() > 10  # an actual radiograph, not a blank


def test_decoding_does_not_depend_on_exif_orientation() -> None:
    values = gradient()
    image = Image.fromarray(values)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=100, exif=exif.tobytes())
    decoded = decode(buffer.getvalue())
    assert decoded.pixels.shape == values.shape
