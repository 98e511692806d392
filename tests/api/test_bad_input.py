"""Every kind of bad upload gets a 4xx envelope with a stable code, leaves nothing behind, and the
server serves the next request."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pydicom
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from tests import samples
from tests.api.conftest import image_rows, stored_files


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header claims the given size, with a tiny (invalid for that size) image stream."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def dicom_without_pixels_but_image_header() -> bytes:
    dataset = pydicom.dcmread(samples.dicom(samples.CT_SMALL))
    del dataset.PixelData
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def corrupt_after_preamble() -> bytes:
    return b"\x00" * 128 + b"DICM" + bytes(range(256)) * 8


def zero_rows_dicom() -> bytes:
    dataset = pydicom.dcmread(samples.dicom(samples.CT_SMALL))
    dataset.Rows = 0
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def huge_dicom_header() -> bytes:
    dataset = pydicom.dcmread(samples.dicom(samples.CT_SMALL))
    dataset.Rows = 60000
    dataset.Columns = 60000
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


BAD_INPUTS: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "empty file": (lambda: b"", 422, "empty_file"),
    "text file": (lambda: b"patient notes, not an image\n" * 10, 415, "unsupported_format"),
    "pdf": (lambda: b"%PDF-1.7\n" + b"0" * 200, 415, "unsupported_format"),
    "truncated png": (lambda: truncated(samples.nih_png().read_bytes()), 422, "corrupt_image"),
    "truncated jpeg": (lambda: truncated(samples.guangzhou_jpeg().read_bytes()), 422, "corrupt_image"),
    "png header only": (lambda: samples.nih_png().read_bytes()[:40], 422, "corrupt_image"),
    "zero-sized png": (lambda: png_with_header(0, 10), 422, "zero_sized_image"),
    "decompression bomb png": (lambda: png_with_header(20000, 20000), 413, "image_too_large"),
    "truncated dicom": (
        lambda: truncated(samples.dicom(samples.CT_SMALL).read_bytes()),
        422,
        "corrupt_dicom",
    ),
    "truncated compressed dicom": (
        lambda: truncated(samples.dicom(samples.CR_MONOCHROME1_JPEG).read_bytes(), 0.6),
        422,
        "corrupt_dicom",
    ),
    "garbage after DICM": (corrupt_after_preamble, 422, "corrupt_dicom"),
    "structured report": (lambda: samples.dicom(samples.SR).read_bytes(), 422, "dicom_no_pixel_data"),
    "rt plan": (lambda: samples.dicom(samples.RT_PLAN).read_bytes(), 422, "dicom_no_pixel_data"),
    "image header without pixel data": (dicom_without_pixels_but_image_header, 422, "dicom_no_pixel_data"),
    "dicom with zero rows": (zero_rows_dicom, 422, "zero_sized_image"),
    "dicom decompression bomb": (huge_dicom_header, 413, "image_too_large"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_upload_is_refused_cleanly(client: TestClient, case: str) -> None:
    make, status, code = BAD_INPUTS[case]
    response = client.post("/api/v1/images", files={"file": ("bad.bin", make())})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    assert image_rows(client) == 0
    assert stored_files(client) == []
    # The server is still healthy and takes a good image next.
    good = client.post("/api/v1/images", files={"file": ("ok.png", samples.nih_png().read_bytes())})
    assert good.status_code == 201


def test_missing_file_field_is_a_validation_error(client: TestClient) -> None:
    response = client.post("/api/v1/images", data={"site": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert any(e["loc"][-1] == "file" for e in error["details"]["errors"])


def test_body_over_the_upload_limit_is_413(client: TestClient) -> None:
    limit = client.app.state.imaging_ai.settings.max_upload_bytes  # type: ignore[attr-defined]
    response = client.post("/api/v1/images", files={"file": ("big.png", b"\x89PNG" + b"0" * limit)})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.json()["error"]["details"]["limit_bytes"] == limit
    assert image_rows(client) == 0


def test_unknown_route_and_wrong_method_use_the_envelope(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = client.delete("/api/v1/images")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_wrong_content_type_is_a_validation_error(client: TestClient) -> None:
    response = client.post("/api/v1/images", json={"file": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_rgb_image_with_grey_content_is_accepted(client: TestClient) -> None:
    grey = PILImage.open(samples.nih_png()).convert("L").convert("RGB")
    buffer = io.BytesIO()
    grey.save(buffer, format="PNG")
    response = client.post("/api/v1/images", files={"file": ("rgb.png", buffer.getvalue())})
    assert response.status_code == 201
    assert response.json()["bits_stored"] == 8
