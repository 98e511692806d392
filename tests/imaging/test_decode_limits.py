"""Issue #13: bounded memory for any image.

Codestream headers are judged before any decoder runs (the decoders are watched by wrapping the
third-party entry points the project calls, which still run for real); decodes are limited in
number; the arithmetic runs in blocks; renditions serve large renders.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit

from imaging_ai.imaging import ImageError, decode_image, dicom_decode, render_png
from imaging_ai.imaging.codestream import MAX_J2K_TILES, read_codestream
from imaging_ai.imaging.decode import decode_slot, max_concurrent_decodes, set_max_concurrent_decodes
from imaging_ai.imaging.rendition import (
    RENDITION_MAX_SIZE,
    RenditionError,
    make_rendition,
    read_rendition,
    rendition_bytes,
)
from imaging_ai.imaging.windowing import BLOCK_ELEMENTS, linear_window, range_display, sigmoid_window
from tests import samples
from tests.imaging import bombs
from tests.imaging.helpers import MAX_PIXELS, edited, png_bytes

DEFAULT_MAX_PIXELS = 40_000_000


@pytest.fixture
def decoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every call into pydicom's pixel decoding and Pillow's image opening (both still run)."""
    calls: list[str] = []

    def watch(module: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(module, name)

        def watched(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, watched)

    watch(dicom_decode, "pixel_array")
    watch(Image, "open")  # the module raster.py opens images with
    return calls


def refusal(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageError:
    with pytest.raises(ImageError) as caught:
        decode_image(data, max_pixels=max_pixels)
    return caught.value


@pytest.mark.parametrize(
    "make",
    [
        bombs.dicom_j2k_bomb,
        bombs.dicom_jpeg_bomb,
        lambda: bombs.dicom_with_frame(bombs.jp2_file(bombs.j2k_header(16000, 16000)), JPEG2000Lossless),
    ],
    ids=["jpeg2000", "jpeg", "jp2"],
)
def test_dicom_with_a_huge_codestream_is_refused_before_decoding(
    make: Callable[[], bytes], decoder_calls: list[str]
) -> None:
    data = make()
    assert len(data) < 4000  # the finding: a 2,950-byte file, refused only after 1.22 GB
    started = time.perf_counter()
    error = refusal(data)
    assert error.code == "image_too_large"
    assert error.details == {"max_pixels": DEFAULT_MAX_PIXELS, "pixels": 16000 * 16000}
    assert decoder_calls == []
    assert time.perf_counter() - started < 0.5


def test_jpeg2000_with_tiny_tiles_is_refused_before_decoding(decoder_calls: list[str]) -> None:
    error = refusal(bombs.j2k_tile_bomb())
    assert error.code == "too_many_tiles"
    assert error.details == {"max_tiles": MAX_J2K_TILES, "tiles": 256 * 255}
    assert decoder_calls == []


def test_a_codestream_with_thousands_of_components_is_refused(decoder_calls: list[str]) -> None:
    data = bombs.dicom_with_frame(bombs.j2k_header(64, 64, components=3000), JPEG2000Lossless)
    assert refusal(data).code == "too_many_components"
    assert decoder_calls == []


def test_codestream_that_disagrees_with_rows_and_columns(decoder_calls: list[str]) -> None:
    # A real JPEG 2000 radiograph (1955 x 1841) whose header is edited to say 1841 x 1955: the same
    # number of pixels, so only the codestream check can tell.
    def swap(dataset: Any) -> None:
        dataset.Rows, dataset.Columns = 1841, 1955

    error = refusal(edited(samples.CR_JPEG2000, swap))
    assert error.code == "codestream_size_mismatch"
    assert error.details["codestream_rows"] == 1955
    assert decoder_calls == []
    # And a small header over a larger but allowed codestream, hand-made.
    small_header = bombs.dicom_with_frame(bombs.jpeg_header(640, 480), JPEGBaseline8Bit)
    assert refusal(small_header).code == "codestream_size_mismatch"


def test_undecodable_codestream_header_is_corrupt_dicom(decoder_calls: list[str]) -> None:
    for frame in (b"\x00" * 64, bombs.j2k_header(64, 64)[:20], bombs.jpeg_header(64, 64)[:12]):
        assert refusal(bombs.dicom_with_frame(frame, JPEG2000Lossless)).code == "corrupt_dicom"
    assert decoder_calls == []


def test_plain_jpeg_bomb_is_refused_from_its_frame_header(decoder_calls: list[str]) -> None:
    error = refusal(bombs.jpeg_header(20000, 20000))
    assert error.code == "image_too_large"
    assert decoder_calls == []  # Pillow never saw it


def test_real_codestreams_are_read_like_the_decoders_read_them() -> None:
    jpeg = samples.guangzhou_jpeg().read_bytes()
    with Image.open(samples.guangzhou_jpeg()) as image:
        width, height = image.size
    parsed = read_codestream(jpeg)
    assert (parsed.kind, parsed.rows, parsed.cols, parsed.tiles) == ("jpeg", height, width, 1)
    # Fill bytes and a large APPn segment before the frame header are skipped.
    padded = b"\xff\xd8\xff\xff" + b"\xe1\xff\xff" + b"\x00" * 65533 + jpeg[2:]
    assert (read_codestream(padded).rows, read_codestream(padded).cols) == (height, width)
    tiled = read_codestream(bombs.j2k_header(1000, 700, tile=(256, 256)))
    assert (tiled.rows, tiled.cols, tiled.tiles) == (700, 1000, 4 * 3)
    wrapped = read_codestream(bombs.jp2_file(bombs.j2k_header(30, 20)))
    assert (wrapped.kind, wrapped.rows, wrapped.cols) == ("jpeg2000", 20, 30)
    # The real compressed samples still decode.
    for relative in (samples.CR_JPEG2000, samples.CR_MONOCHROME1_JPEG, "mr/MR2_J2KI.dcm"):
        assert decode_image(samples.dicom(relative).read_bytes(), max_pixels=MAX_PIXELS).pixels.size > 0


@pytest.fixture
def one_decode_at_a_time() -> Iterator[None]:
    previous = max_concurrent_decodes()
    set_max_concurrent_decodes(1)
    yield
    set_max_concurrent_decodes(previous)


def test_decodes_beyond_the_limit_wait_for_a_slot(one_decode_at_a_time: None) -> None:
    data = samples.nih_png().read_bytes()
    finished = threading.Event()

    def decode() -> None:
        decode_image(data, max_pixels=MAX_PIXELS)
        finished.set()

    with decode_slot():
        with decode_slot():  # re-entrant: a holder may decode (render after decode) without deadlock
            decode_image(data, max_pixels=MAX_PIXELS)
        worker = threading.Thread(target=decode)
        worker.start()
        assert not finished.wait(0.5), "a second decode ran while the only slot was held"
    assert finished.wait(20)
    worker.join()


def test_blockwise_windows_equal_the_whole_array_formulas() -> None:
    values = np.random.default_rng(1).normal(500, 800, size=(3, BLOCK_ELEMENTS + 17)).astype(np.float32)
    x = values.astype(np.float64)
    np.testing.assert_array_equal(
        linear_window(values, 40.0, 400.0),
        np.clip((x - (40.0 - 0.5)) / (400.0 - 1) + 0.5, 0.0, 1.0).astype(np.float32),
    )
    np.testing.assert_array_equal(
        range_display(values, -1000.0, 3000.0), np.clip((x + 1000.0) / 4000.0, 0.0, 1.0).astype(np.float32)
    )
    np.testing.assert_array_equal(
        sigmoid_window(values, 100.0, 400.0),
        (1.0 / (1.0 + np.exp(np.clip(-4.0 * (x - 100.0) / 400.0, -700.0, 700.0)))).astype(np.float32),
    )


def test_decode_peak_memory_per_pixel(tmp_path: Path) -> None:
    """An 8-bit PNG took ~25 bytes a pixel at its peak (float64 temporaries); now ~9, of which 8
    are the two float32 arrays the decode returns."""
    from bench.decode_memory import measure

    path = tmp_path / "large.png"
    path.write_bytes(bombs.large_png(4000))
    figures = measure(path)
    assert figures["pixels"] == 4000 * 4000
    assert figures["kept_bytes"] == 8 * figures["pixels"]
    assert figures["peak_bytes"] / figures["pixels"] < 12


def test_rendition_renders_like_the_original_at_the_viewer_size() -> None:
    rng = np.random.default_rng(2)
    ramp = np.linspace(0, 4000, 2600)[:, None] + rng.integers(0, 64, size=(2600, 2100))
    decoded = decode_image(png_bytes(ramp.astype(np.uint16)), max_pixels=MAX_PIXELS)
    rendition = read_rendition(rendition_bytes(make_rendition(decoded)))
    assert rendition.pixels.shape == (RENDITION_MAX_SIZE, round(2100 * RENDITION_MAX_SIZE / 2600))
    assert rendition.default_window == decoded.default_window
    # The default view at the viewer's size is byte for byte the one drawn from the original.
    assert render_png(rendition, max_size=2048) == render_png(decoded, max_size=2048)
    # A window is applied to the downscaled modality values: close to, not equal to, the original's.
    ours, theirs = (
        np.asarray(Image.open(io.BytesIO(render_png(source, window=(2000, 1000), max_size=512))), dtype=int)
        for source in (rendition, decoded)
    )
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 2


def test_damaged_or_pickled_renditions_are_refused() -> None:
    import pickle

    with pytest.raises(RenditionError):
        read_rendition(b"not a rendition")
    buffer = io.BytesIO()
    np.savez(buffer, pixels=np.array([object()], dtype=object), display=np.zeros(1))
    with pytest.raises(RenditionError):
        read_rendition(buffer.getvalue())
    with pytest.raises(RenditionError):
        read_rendition(pickle.dumps({"pixels": np.zeros((2, 2))}))
