"""Decoding of real DICOM files (and variants made from them) through the canonical path."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from pydicom import dcmwrite
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array
from pydicom.sequence import Sequence
from pydicom.uid import RLELossless

from imaging_ai.imaging import DecodedImage, ImageFormat, apply_window, decode_image
from tests.imaging.helpers import (
    MAX_PIXELS,
    dicom_bytes,
    dicom_image_rows,
    edited,
    read_dataset,
    to_bytes,
)

IMAGE_ROWS = dicom_image_rows()


def decode(data: bytes) -> DecodedImage:
    return decode_image(data, max_pixels=MAX_PIXELS)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


@pytest.mark.parametrize("row", IMAGE_ROWS, ids=[row["path"] for row in IMAGE_ROWS])
def test_every_sample_decodes_as_the_manifest_describes(row: dict[str, str]) -> None:
    decoded = decode(dicom_bytes(row["path"]))
    meta = decoded.metadata
    assert meta.format is ImageFormat.DICOM
    assert meta.media_type == "application/dicom"
    assert (meta.rows, meta.cols) == (int(row["rows"]), int(row["cols"]))
    assert meta.number_of_frames == int(row["frames"])
    assert meta.frame_index == int(row["frames"]) // 2
    assert meta.bits_stored == int(row["bits_stored"])
    assert meta.photometric == row["photometric"]
    assert meta.modality == row["label"]
    assert decoded.invert == (row["photometric"] == "MONOCHROME1")
    for array in (decoded.pixels, decoded.display):
        assert array.shape == (meta.rows, meta.cols)
        assert array.dtype == np.float32
        assert not array.flags.writeable
    assert np.isfinite(decoded.pixels).all()
    assert decoded.display.min() >= 0.0
    assert decoded.display.max() <= 1.0
    assert decoded.default_window[1] > 0


def test_metadata_of_a_chest_radiograph() -> None:
    meta = decode(
        dicom_bytes("cr_chest/siim_1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm")
    ).metadata
    assert (meta.modality, meta.body_part) == ("CR", "CHEST")
    assert meta.pixel_spacing_mm == pytest.approx((0.168, 0.168))


def test_zero_pixel_spacing_is_reported_as_unknown() -> None:
    # The NEMA RG1 sample writes Pixel Spacing "0\0".
    assert decode(dicom_bytes("cr_chest/RG1_UNCR.dcm")).metadata.pixel_spacing_mm is None


def test_imager_pixel_spacing_is_the_fallback() -> None:
    def move_spacing(dataset: Dataset) -> None:
        dataset.ImagerPixelSpacing = [0.2, 0.3]
        del dataset.PixelSpacing

    assert decode(edited("ct/CT_small.dcm", move_spacing)).metadata.pixel_spacing_mm == pytest.approx(
        (0.2, 0.3)
    )


def test_ct_pixels_are_hounsfield_units() -> None:
    dataset = read_dataset("ct/CT_small.dcm")
    stored = dataset.pixel_array.astype(np.float64)
    decoded = decode(dicom_bytes("ct/CT_small.dcm"))
    np.testing.assert_array_equal(
        decoded.pixels, stored * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    )


def test_default_display_without_window_is_the_full_range() -> None:
    decoded = decode(dicom_bytes("ct/CT_small.dcm"))  # no Window Center/Width, no VOI LUT
    pixels = decoded.pixels.astype(np.float64)
    expected = (pixels - pixels.min()) / (pixels.max() - pixels.min())
    np.testing.assert_allclose(decoded.display, expected, atol=1e-6)
    np.testing.assert_allclose(apply_window(decoded, *decoded.default_window), decoded.display, atol=1e-6)


@pytest.mark.parametrize(
    "path", ["ct/693_UNCI.dcm", "mr/MR_small.dcm", "mr/MR2_UNCR.dcm", "cr_chest/RG1_UNCR.dcm"]
)
def test_default_display_is_the_first_window(path: str) -> None:
    dataset = read_dataset(path)
    decoded = decode(dicom_bytes(path))
    center = float(dataset.WindowCenter[0] if dataset["WindowCenter"].VM > 1 else dataset.WindowCenter)
    width = float(dataset.WindowWidth[0] if dataset["WindowWidth"].VM > 1 else dataset.WindowWidth)
    assert decoded.default_window == (center, width)
    np.testing.assert_array_equal(apply_window(decoded, center, width), decoded.display)


def test_first_of_several_windows_is_used() -> None:
    decoded = decode(dicom_bytes("mr/MR-SIEMENS-DICOM-WithOverlays.dcm"))  # windows 450/790 and 200/443
    assert decoded.default_window == (450.0, 790.0)


def test_monochrome1_is_inverted() -> None:
    # The same pixel data labelled MONOCHROME1 (RG1) and relabelled MONOCHROME2.
    original = dicom_bytes("cr_chest/RG1_UNCR.dcm")
    as_monochrome2 = edited(
        "cr_chest/RG1_UNCR.dcm", lambda ds: setattr(ds, "PhotometricInterpretation", "MONOCHROME2")
    )
    inverted, plain = decode(original), decode(as_monochrome2)
    assert inverted.invert and not plain.invert
    np.testing.assert_array_equal(inverted.pixels, plain.pixels)
    np.testing.assert_allclose(inverted.display, 1.0 - plain.display, atol=1e-6)
    # In the raw data bone is bright; displayed as MONOCHROME1 it must be dark... and vice versa.
    brightest = np.unravel_index(np.argmax(inverted.pixels), inverted.pixels.shape)
    assert inverted.display[brightest] < 0.2


def test_fake_monochrome1_is_the_inverse_of_its_monochrome2_original() -> None:
    # torchxrayvision's Fake_MONOHR1 is the SIIM file with only the photometric interpretation changed.
    fake = decode(dicom_bytes("cr_chest/Fake_MONOHR1.dcm"))
    original = decode(dicom_bytes("cr_chest/siim_1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"))
    np.testing.assert_array_equal(fake.pixels, original.pixels)
    np.testing.assert_allclose(fake.display, 1.0 - original.display, atol=1e-6)
    np.testing.assert_allclose(
        apply_window(fake, 128, 256), 1.0 - apply_window(original, 128, 256), atol=1e-6
    )


def test_presentation_lut_shape_inverse_inverts_monochrome2() -> None:
    decoded = decode(edited("ct/CT_small.dcm", lambda ds: setattr(ds, "PresentationLUTShape", "INVERSE")))
    plain = decode(dicom_bytes("ct/CT_small.dcm"))
    assert decoded.invert
    np.testing.assert_allclose(decoded.display, 1.0 - plain.display, atol=1e-6)


@pytest.mark.parametrize(
    ("lossy", "lossless"),
    [("cr_chest/RG1_J2KI.dcm", "cr_chest/RG1_UNCR.dcm"), ("mr/MR2_J2KI.dcm", "mr/MR2_UNCR.dcm")],
)
def test_jpeg2000_decodes_close_to_the_uncompressed_original(lossy: str, lossless: str) -> None:
    compressed, uncompressed = decode(dicom_bytes(lossy)), decode(dicom_bytes(lossless))
    assert compressed.metadata.rows == uncompressed.metadata.rows
    assert compressed.metadata.cols == uncompressed.metadata.cols
    assert compressed.invert == uncompressed.invert
    assert correlation(compressed.pixels, uncompressed.pixels) > 0.99
    assert correlation(compressed.display, uncompressed.display) > 0.99
    assert float(np.abs(compressed.display - uncompressed.display).mean()) < 0.01


def test_jpeg2000_lossless_decodes() -> None:
    decoded = decode(dicom_bytes("ct/explicit_VR-UN.dcm"))
    dataset = read_dataset("ct/explicit_VR-UN.dcm")
    np.testing.assert_array_equal(
        decoded.pixels, dataset.pixel_array.astype(np.float64) + float(dataset.RescaleIntercept)
    )


def test_rle_lossless_round_trips_exactly() -> None:
    dataset = read_dataset("ct/CT_small.dcm")
    dataset.compress(RLELossless)
    compressed = to_bytes(dataset)
    assert dataset.file_meta.TransferSyntaxUID == RLELossless
    rle, native = decode(compressed), decode(dicom_bytes("ct/CT_small.dcm"))
    np.testing.assert_array_equal(rle.pixels, native.pixels)
    np.testing.assert_array_equal(rle.display, native.display)
    # pydicom's compress() gives the compressed copy a new SOP Instance UID: it is another instance.
    assert rle.metadata.dicom_identity and native.metadata.dicom_identity
    assert rle.metadata.dicom_identity.sop_instance_uid != native.metadata.dicom_identity.sop_instance_uid
    same_instance = replace(rle.metadata.dicom_identity, sop_instance_uid=None)
    assert same_instance == replace(native.metadata.dicom_identity, sop_instance_uid=None)
    assert replace(rle.metadata, dicom_identity=None) == replace(native.metadata, dicom_identity=None)


def test_multiframe_decodes_the_middle_frame_with_functional_groups() -> None:
    decoded = decode(dicom_bytes("ct/eCT_Supplemental.dcm"))
    meta = decoded.metadata
    assert (meta.number_of_frames, meta.frame_index) == (2, 1)
    # Rescale, window and spacing live only in the Shared Functional Groups Sequence here.
    assert decoded.default_window == (49.0, 102.0)
    assert meta.pixel_spacing_mm == pytest.approx((0.388672, 0.388672))
    frames = read_dataset("ct/eCT_Supplemental.dcm").pixel_array
    np.testing.assert_array_equal(decoded.pixels, frames[1].astype(np.float64) - 1024.0)
    assert not np.array_equal(frames[0], frames[1])


def test_per_frame_functional_groups_take_precedence() -> None:
    def per_frame_window(dataset: Dataset) -> None:
        for index, center in enumerate((10.0, 300.0)):
            voi = Dataset()
            voi.WindowCenter = center
            voi.WindowWidth = 50.0
            dataset.PerFrameFunctionalGroupsSequence[index].FrameVOILUTSequence = Sequence([voi])

    assert decode(edited("ct/eCT_Supplemental.dcm", per_frame_window)).default_window == (300.0, 50.0)


def test_voi_lut_sequence_takes_precedence_over_the_window() -> None:
    entries = 2048
    table = np.arange(entries, dtype=np.uint16)[::-1] * 2  # a descending ramp, 0..4094

    def add_lut(dataset: Dataset) -> None:
        item = Dataset()
        item.add_new(0x00283002, "US", [entries, 0, 16])  # LUT Descriptor (VR is ambiguous)
        item.add_new(0x00283006, "US", table.tolist())  # LUT Data
        dataset.VOILUTSequence = Sequence([item])
        dataset.WindowCenter = 40.0
        dataset.WindowWidth = 400.0

    decoded = decode(edited("ct/CT_small.dcm", add_lut))
    indices = np.clip(np.rint(decoded.pixels), 0, entries - 1).astype(int)
    expected = table[indices].astype(np.float64) / table.max()
    np.testing.assert_allclose(decoded.display, expected, atol=1e-6)
    assert decoded.default_window == (1024.0, 2048.0)


def test_voi_lut_function_sigmoid() -> None:
    def sigmoid(dataset: Dataset) -> None:
        dataset.WindowCenter = 100.0
        dataset.WindowWidth = 400.0
        dataset.VOILUTFunction = "SIGMOID"

    decoded = decode(edited("ct/CT_small.dcm", sigmoid))
    expected = 1.0 / (1.0 + np.exp(-4.0 * (decoded.pixels.astype(np.float64) - 100.0) / 400.0))
    np.testing.assert_allclose(decoded.display, expected, atol=1e-6)


def test_invalid_window_falls_back_to_the_full_range() -> None:
    def bad_window(dataset: Dataset) -> None:
        dataset.WindowCenter = 40.0
        dataset.WindowWidth = 0.0

    decoded = decode(edited("ct/CT_small.dcm", bad_window))
    assert decoded.display.min() == 0.0
    assert decoded.display.max() == 1.0


def test_constant_image_displays_black_without_warnings(recwarn: pytest.WarningsRecorder) -> None:
    def constant(dataset: Dataset) -> None:
        dataset.PixelData = np.full((128, 128), 500, dtype=np.int16).tobytes()

    decoded = decode(edited("ct/CT_small.dcm", constant))
    assert (decoded.display == 0).all()
    assert (decoded.pixels == 500 - 1024).all()
    np.testing.assert_array_equal(apply_window(decoded, *decoded.default_window), decoded.display)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def _colour_dataset(rgb: np.ndarray) -> bytes:
    def colour(dataset: Dataset) -> None:
        dataset.SamplesPerPixel = 3
        dataset.PhotometricInterpretation = "RGB"
        dataset.PlanarConfiguration = 0
        dataset.BitsAllocated = 8
        dataset.BitsStored = 8
        dataset.HighBit = 7
        dataset.PixelRepresentation = 0
        dataset.Rows, dataset.Columns = rgb.shape[:2]
        del dataset.RescaleSlope, dataset.RescaleIntercept
        dataset.PixelData = rgb.astype(np.uint8).tobytes()

    return edited("ct/CT_small.dcm", colour)


def test_colour_dicom_becomes_bt601_luma() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8)
    decoded = decode(_colour_dataset(rgb))
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(decoded.pixels, luma, atol=1e-3)
    np.testing.assert_allclose(decoded.display, luma / 255.0, atol=1e-5)
    assert decoded.metadata.photometric == "RGB"
    assert not decoded.invert


def test_grey_colour_dicom_is_exactly_one_channel() -> None:
    grey = np.random.default_rng(2).integers(0, 256, size=(32, 40), dtype=np.uint8)
    decoded = decode(_colour_dataset(np.repeat(grey[..., None], 3, axis=2)))
    np.testing.assert_array_equal(decoded.pixels, grey)


def test_palette_colour_dicom() -> None:
    indices = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ramp = (np.arange(256, dtype=np.uint16) * 257).tobytes()

    def palette(dataset: Dataset) -> None:
        dataset.PhotometricInterpretation = "PALETTE COLOR"
        dataset.BitsAllocated = 8
        dataset.BitsStored = 8
        dataset.HighBit = 7
        dataset.PixelRepresentation = 0
        dataset.Rows, dataset.Columns = indices.shape
        del dataset.RescaleSlope, dataset.RescaleIntercept
        dataset.PixelData = indices.tobytes()
        for offset in range(3):  # Red, Green, Blue Palette Color Lookup Table Descriptor and Data
            dataset.add_new(0x00281101 + offset, "US", [256, 0, 16])
            dataset.add_new(0x00281201 + offset, "OW", ramp)

    decoded = decode(edited("ct/CT_small.dcm", palette))
    np.testing.assert_allclose(decoded.display, indices / 255.0, atol=1e-6)


def test_dicom_without_preamble_or_file_meta_decodes_like_the_original() -> None:
    reference = decode(dicom_bytes("ct/CT_small.dcm"))
    assert decode(dicom_bytes("ct/CT_small.dcm")[132:]).metadata == reference.metadata
    dataset = read_dataset("ct/CT_small.dcm")
    del dataset.file_meta
    dataset.preamble = None
    for implicit in (True, False):
        buffer = io.BytesIO()
        dcmwrite(buffer, dataset, implicit_vr=implicit, little_endian=True)
        bare = decode(buffer.getvalue())
        np.testing.assert_array_equal(bare.pixels, reference.pixels)
        assert bare.metadata == reference.metadata


def test_decoding_is_deterministic() -> None:
    first = decode(dicom_bytes("cr_chest/RG1_J2KI.dcm"))
    second = decode(dicom_bytes("cr_chest/RG1_J2KI.dcm"))
    np.testing.assert_array_equal(first.pixels, second.pixels)
    np.testing.assert_array_equal(first.display, second.display)


def test_the_decoded_frame_matches_pydicom() -> None:
    data = dicom_bytes("mr/MR2_UNCR.dcm")
    stored = pixel_array(io.BytesIO(data))
    dataset = read_dataset("mr/MR2_UNCR.dcm")
    expected = stored.astype(np.float64) * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    np.testing.assert_allclose(decode(data).pixels, expected, rtol=1e-6)
