"""Parse DICOM bytes into a pydicom Dataset, or refuse them with a precise ImageError.

Shared by de-identification and decoding so both accept and reject exactly the same files.
"""

from __future__ import annotations

from io import BytesIO

from pydicom import config as pydicom_config
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from imaging_ai.imaging.errors import ImageError
from imaging_ai.imaging.formats import looks_like_bare_dicom

# pydicom warns (and logs) about invalid values *quoting the value*, e.g. a malformed birth date.
# Those messages would put patient data into logs, and the values are removed or ignored here
# anyway. pydicom offers no per-call switch, so the (process-wide) reading mode is set once.
pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE

_UNDEFINED_LENGTH = 0xFFFFFFFF

# The Pixel Data tag followed by an explicit VR of OB/OW: how an encapsulated (compressed) Pixel
# Data element starts. pydicom silently drops such an element when the file ends before its
# sequence delimiter, so its header in the bytes without the element in the data set means the
# file was cut off.
_PIXEL_DATA_HEADERS = tuple(
    tag + vr for tag in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10") for vr in (b"OB", b"OW")
)


def read_dicom(data: bytes) -> Dataset:
    """The data set in `data`, with a Transfer Syntax UID always set in its file meta.

    ImageError ``corrupt_dicom`` when the bytes do not parse or the file is truncated.
    """
    has_preamble = data[128:132] == b"DICM"
    if not has_preamble and not looks_like_bare_dicom(data):
        raise ImageError("corrupt_dicom", "The file is not a readable DICOM file.")
    try:
        # `force` only for bare data sets: with it pydicom would also "parse" arbitrary bytes.
        dataset = dcmread(BytesIO(data), force=not has_preamble)
        _ensure_transfer_syntax(dataset, has_file_meta=has_preamble)
        _check_not_truncated(dataset, data)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError("corrupt_dicom", "The DICOM file could not be parsed.") from exc
    return dataset


def has_pixel_data(dataset: Dataset) -> bool:
    return "PixelData" in dataset


def require_pixel_data(dataset: Dataset) -> None:
    if not has_pixel_data(dataset):
        raise ImageError(
            "dicom_no_pixel_data",
            "The DICOM file has no Pixel Data (e.g. a structured report, RT plan or DICOMDIR).",
        )


def _ensure_transfer_syntax(dataset: Dataset, *, has_file_meta: bool) -> None:
    meta = getattr(dataset, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        dataset.file_meta = meta
    syntax = meta.get("TransferSyntaxUID")
    if syntax:
        return
    if has_file_meta:
        # A file with the DICM prefix must carry its transfer syntax (PS3.10 7.1); without it the
        # bytes after the prefix are not DICOM (e.g. random data behind a forged prefix).
        raise ImageError("corrupt_dicom", "The DICOM file meta information is missing or unreadable.")
    # A bare data set: pydicom detected its encoding while reading, which is all a transfer
    # syntax says for native (uncompressed) pixel data.
    implicit, little_endian = dataset.original_encoding
    if implicit is None or little_endian is None:
        raise ImageError("corrupt_dicom", "The DICOM encoding could not be determined.")
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    elif little_endian:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRBigEndian


def _check_not_truncated(dataset: Dataset, data: bytes) -> None:
    # pydicom reads a value cut short by the end of the file without complaint, so compare each
    # top-level value with its declared length (cheap: no value is converted; iterating the
    # Dataset itself would convert every element, hence keys()).
    for tag in dataset.keys():  # noqa: SIM118
        element = dataset.get_item(tag, keep_deferred=True)
        if (
            isinstance(element, RawDataElement)
            and element.length != _UNDEFINED_LENGTH
            and element.value is not None
            and len(element.value) < element.length
        ):
            raise ImageError("corrupt_dicom", "The DICOM file is truncated.")
    if not has_pixel_data(dataset) and any(header in data for header in _PIXEL_DATA_HEADERS):
        raise ImageError("corrupt_dicom", "The DICOM file is truncated inside its Pixel Data.")
