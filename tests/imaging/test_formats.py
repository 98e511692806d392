from __future__ import annotations

import io

import pytest
from pydicom import dcmwrite

from imaging_ai.imaging import MEDIA_TYPES, ImageError, ImageFormat, sniff_format
from tests.imaging.helpers import dicom_bytes, gradient, png_bytes, read_dataset, real_jpeg, real_png


def test_png_jpeg_and_dicom_are_recognised_by_content() -> None:
    assert sniff_format(real_png().read_bytes()) is ImageFormat.PNG
    assert sniff_format(real_jpeg().read_bytes()) is ImageFormat.JPEG
    assert sniff_format(png_bytes(gradient())) is ImageFormat.PNG
    assert sniff_format(dicom_bytes("ct/CT_small.dcm")) is ImageFormat.DICOM
    assert sniff_format(dicom_bytes("non_image/rtplan.dcm")) is ImageFormat.DICOM


def test_dicom_without_preamble_is_recognised() -> None:
    with_meta = dicom_bytes("ct/CT_small.dcm")[132:]
    assert with_meta[:2] == b"\x02\x00"
    assert sniff_format(with_meta) is ImageFormat.DICOM

    dataset = read_dataset("ct/CT_small.dcm")
    del dataset.file_meta
    dataset.preamble = None
    for implicit in (True, False):
        buffer = io.BytesIO()
        dcmwrite(buffer, dataset, implicit_vr=implicit, little_endian=True)
        bare = buffer.getvalue()
        assert bare[:2] == b"\x08\x00"
        assert sniff_format(bare) is ImageFormat.DICOM


@pytest.mark.parametrize(
    "data",
    [
        b"patient notes, not an image\n" * 10,
        b"%PDF-1.7\n" + b"0" * 200,
        b"GIF89a" + b"\x00" * 100,
        b"\x08\x00\x05\x00" + b"\xff" * 10,  # group 0008 start, but neither VR nor length parses
        b"\x00" * 127 + b"DICM",  # the prefix one byte early
        b"\xff\xd8",  # SOI without the marker that must follow
    ],
)
def test_unknown_content_is_unsupported(data: bytes) -> None:
    with pytest.raises(ImageError) as caught:
        sniff_format(data)
    assert caught.value.code == "unsupported_format"


def test_empty_file() -> None:
    with pytest.raises(ImageError) as caught:
        sniff_format(b"")
    assert caught.value.code == "empty_file"


def test_media_types() -> None:
    assert MEDIA_TYPES == {
        ImageFormat.PNG: "image/png",
        ImageFormat.JPEG: "image/jpeg",
        ImageFormat.DICOM: "application/dicom",
    }
    assert ImageFormat("dicom") is ImageFormat.DICOM
