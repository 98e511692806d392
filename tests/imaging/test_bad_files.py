"""Every kind of unacceptable upload becomes an ImageError with a stable code, and nothing else."""

from __future__ import annotations

import io
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import MPEG2MPML

from imaging_ai.imaging import ImageError, decode_image, deidentify_dicom
from tests.imaging.helpers import (
    KEY,
    MAX_PIXELS,
    dicom_bytes,
    edited,
    gradient,
    jpeg_bytes,
    png_bytes,
    png_with_header,
    real_jpeg,
    real_png,
)

SIIM = "cr_chest/siim_1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"


def decode_error(data: bytes, max_pixels: int = MAX_PIXELS) -> ImageError:
    with pytest.raises(ImageError) as caught:
        decode_image(data, max_pixels=max_pixels)
    return caught.value


def deidentify_error(data: bytes) -> ImageError:
    with pytest.raises(ImageError) as caught:
        deidentify_dicom(data, key=KEY)
    return caught.value


def truncated(data: bytes, keep: float) -> bytes:
    return data[: int(len(data) * keep)]


# --- format -----------------------------------------------------------------------------------


def test_empty_and_unknown() -> None:
    assert decode_error(b"").code == "empty_file"
    assert decode_error(b"patient notes, not an image\n" * 10).code == "unsupported_format"


# --- PNG and JPEG -----------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.9])
def test_truncated_png_and_jpeg(keep: float) -> None:
    made_png = png_bytes(np.random.default_rng(0).integers(0, 256, (128, 128), dtype=np.uint8))
    made_jpeg = jpeg_bytes(Image.fromarray(gradient(256, 256)))
    for data in (made_png, made_jpeg, real_png().read_bytes(), real_jpeg().read_bytes()):
        assert decode_error(truncated(data, keep)).code == "corrupt_image"


def test_png_header_only_and_bad_checksum() -> None:
    data = real_png().read_bytes()
    assert decode_error(data[:40]).code == "corrupt_image"
    assert decode_error(data[:8]).code == "corrupt_image"
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF  # inside IDAT: the chunk CRC no longer matches
    assert decode_error(bytes(damaged)).code == "corrupt_image"


def test_jpeg_with_only_its_start_marker() -> None:
    assert decode_error(b"\xff\xd8\xff\xe0" + b"\x00" * 16).code == "corrupt_image"


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (0, 0)])
def test_zero_sized_png(width: int, height: int) -> None:
    assert decode_error(png_with_header(width, height)).code == "zero_sized_image"


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (5_000, 5_000), (10_001, 1_000)])
def test_png_decompression_bomb_is_refused_from_its_header(width: int, height: int) -> None:
    data = png_with_header(width, height)  # ~60 bytes claiming up to 400 million pixels
    tracemalloc.start()
    started = time.perf_counter()
    try:
        error = decode_error(data, max_pixels=10_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.code == "image_too_large"
    assert error.details["max_pixels"] == 10_000_000
    assert peak < 1_000_000
    assert time.perf_counter() - started < 1.0


def test_real_image_over_the_limit() -> None:
    data = real_png().read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        pixels = image.size[0] * image.size[1]
    assert decode_error(data, max_pixels=pixels - 1).code == "image_too_large"
    assert decode_image(data, max_pixels=pixels).metadata.rows > 0


# --- DICOM ------------------------------------------------------------------------------------

TRUNCATION_SAMPLES = [
    "ct/CT_small.dcm",
    "ct/eCT_Supplemental.dcm",
    SIIM,
    "cr_chest/RG1_J2KI.dcm",
    "mr/MR_small.dcm",
]


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter:UserWarning")
@pytest.mark.parametrize("path", TRUNCATION_SAMPLES)
@pytest.mark.parametrize("keep", [0.5, 0.6, 0.9, 0.999])
def test_truncated_dicom(path: str, keep: float) -> None:
    data = truncated(dicom_bytes(path), keep)
    assert decode_error(data).code == "corrupt_dicom"
    assert deidentify_error(data).code == "corrupt_dicom"


@pytest.mark.parametrize(
    "garbage",
    [bytes(range(256)) * 8, np.random.default_rng(0).bytes(4096), b"hello, not dicom" * 40, b""],
)
def test_garbage_after_dicm(garbage: bytes) -> None:
    data = b"\x00" * 128 + b"DICM" + garbage
    assert decode_error(data).code == "corrupt_dicom"
    assert deidentify_error(data).code == "corrupt_dicom"


@pytest.mark.parametrize(
    "path", ["non_image/test-SR.dcm", "non_image/rtplan.dcm", "dicomdir_series/DICOMDIR"]
)
def test_dicom_without_pixel_data(path: str) -> None:
    assert decode_error(dicom_bytes(path)).code == "dicom_no_pixel_data"
    assert deidentify_error(dicom_bytes(path)).code == "dicom_no_pixel_data"


def test_image_header_without_pixel_data() -> None:
    data = edited("ct/CT_small.dcm", lambda ds: delattr(ds, "PixelData"))
    assert decode_error(data).code == "dicom_no_pixel_data"
    assert deidentify_error(data).code == "dicom_no_pixel_data"


@pytest.mark.parametrize("attribute", ["Rows", "Columns"])
def test_dicom_with_zero_rows_or_columns(attribute: str) -> None:
    data = edited("ct/CT_small.dcm", lambda ds: setattr(ds, attribute, 0))
    assert decode_error(data).code == "zero_sized_image"


def test_dicom_decompression_bomb_is_refused_from_its_header() -> None:
    def huge(dataset: Dataset) -> None:
        dataset.Rows = 60_000
        dataset.Columns = 60_000

    data = edited("ct/CT_small.dcm", huge)
    assert decode_error(data).code == "image_too_large"
    # De-identification does not judge the size; the decode that follows it refuses the file.
    assert decode_error(deidentify_dicom(data, key=KEY).data).code == "image_too_large"


def test_multiframe_limit_is_per_frame() -> None:
    # eCT_Supplemental: 2 frames of 512 x 512.
    assert decode_image(dicom_bytes("ct/eCT_Supplemental.dcm"), max_pixels=512 * 512).metadata.rows == 512
    assert (
        decode_error(dicom_bytes("ct/eCT_Supplemental.dcm"), max_pixels=512 * 512 - 1).code
        == "image_too_large"
    )


def test_pixel_data_shorter_than_the_header_says() -> None:
    data = edited("ct/CT_small.dcm", lambda ds: setattr(ds, "Rows", 200))  # 128 rows stored
    assert decode_error(data).code == "corrupt_dicom"


def test_dicom_missing_rows() -> None:
    data = edited("ct/CT_small.dcm", lambda ds: delattr(ds, "Rows"))
    assert decode_error(data).code == "corrupt_dicom"


def test_corrupt_compressed_pixel_data() -> None:
    def zero_fragments(dataset: Dataset) -> None:
        data = bytearray(dataset.PixelData)
        data[40:] = b"\x00" * (len(data) - 40)  # keep the item tags, destroy the JPEG stream
        dataset.PixelData = bytes(data)

    assert decode_error(edited(SIIM, zero_fragments)).code == "corrupt_dicom"


def test_compression_without_a_decoder() -> None:
    data = edited(SIIM, lambda ds: setattr(ds.file_meta, "TransferSyntaxUID", MPEG2MPML))
    error = decode_error(data)
    assert error.code == "corrupt_dicom"
    assert error.details == {"transfer_syntax": MPEG2MPML}


# --- robustness -------------------------------------------------------------------------------

PATIENT_VALUES = ("Doe^Jane", "MRN-778899", "19510704", "Hospital of Secrets")


def _with_identity(path: str) -> bytes:
    def plant(dataset: Dataset) -> None:
        dataset.PatientName = PATIENT_VALUES[0]
        dataset.PatientID = PATIENT_VALUES[1]
        dataset.PatientBirthDate = PATIENT_VALUES[2]
        dataset.InstitutionName = PATIENT_VALUES[3]

    return edited(path, plant)


def _mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    variants = []
    for _ in range(count):
        damaged = bytearray(data)
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 12))):
            damaged[position] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            damaged = damaged[: int(rng.integers(1, len(damaged)))]
        variants.append(bytes(damaged))
    return variants


@pytest.mark.parametrize(
    "make",
    [
        lambda: _with_identity("ct/CT_small.dcm"),
        lambda: _with_identity(SIIM)[:60_000],
        lambda: _with_identity("mr/MR_small.dcm"),
        lambda: png_bytes(gradient(32, 32)),
        lambda: jpeg_bytes(Image.fromarray(gradient(32, 32))),
    ],
    ids=["dicom-native", "dicom-jpeg-cut", "dicom-mr", "png", "jpeg"],
)
@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom describes the damage it reads past
def test_damaged_files_give_image_errors_only_and_no_patient_data(make: Callable[[], bytes]) -> None:
    for data in _mutations(make(), count=60, seed=len(make())):
        for operation in (
            lambda d: decode_image(d, max_pixels=MAX_PIXELS),
            lambda d: deidentify_dicom(d, key=KEY),
        ):
            try:
                operation(data)
            except ImageError as error:
                text = f"{error} {error.message} {error.details}"
                assert not any(value in text for value in PATIENT_VALUES), text


def test_error_messages_carry_no_patient_data() -> None:
    data = _with_identity("ct/CT_small.dcm")
    errors = [
        decode_error(truncated(data, 0.5)),
        deidentify_error(truncated(data, 0.5)),
        decode_error(edited("ct/CT_small.dcm", lambda ds: setattr(ds, "Rows", 0))),
    ]
    for error in errors:
        text = f"{error} {error.message} {error.details}"
        assert not any(value in text for value in PATIENT_VALUES)
