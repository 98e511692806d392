"""The one exception type of the imaging layer."""

from __future__ import annotations


class ImageError(Exception):
    """An upload that cannot be accepted as an image; `code` is a stable machine-readable error code.

    Codes: ``empty_file``, ``unsupported_format``, ``corrupt_image``, ``corrupt_dicom``,
    ``dicom_no_pixel_data``, ``zero_sized_image``, ``image_too_large``, ``codestream_size_mismatch``,
    ``too_many_tiles``, ``too_many_components``.

    Messages and details are shown to API clients and may be logged, so they describe the file's
    structure only and never carry values read from it (names, IDs, dates).
    """

    def __init__(self, code: str, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, object] = dict(details) if details else {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
