"""The attributes that describe one frame's pixels, gathered into a flat data set.

Enhanced (multi-frame) objects keep rescale, window and pixel spacing in functional group
sequences - shared by all frames or per frame - instead of at the top level, where pydicom's
LUT functions look. Flattening them into one small data set lets the same code handle classic
and enhanced objects.
"""

from __future__ import annotations

import math

from pydicom.dataset import Dataset

_TOP_LEVEL_KEYWORDS = (
    "PhotometricInterpretation",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "ModalityLUTSequence",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
    "VOILUTSequence",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "PresentationLUTShape",
)

# Functional group macros whose contents replace the top-level attributes of the same name.
_FUNCTIONAL_GROUP_KEYWORDS = (
    "PixelValueTransformationSequence",
    "FrameVOILUTSequence",
    "PixelMeasuresSequence",
)


def frame_view(dataset: Dataset, frame_index: int) -> Dataset:
    view = Dataset()
    # pydicom reads the byte order of OW lookup tables from here.
    view.file_meta = dataset.file_meta
    for keyword in _TOP_LEVEL_KEYWORDS:
        if keyword in dataset:
            element = dataset[keyword]
            view[element.tag] = element
    for groups in _functional_groups(dataset, frame_index):
        for keyword in _FUNCTIONAL_GROUP_KEYWORDS:
            sequence = groups.get(keyword)
            if sequence:
                for element in sequence[0]:
                    view[element.tag] = element
    _drop_unusable_rescale(view)
    return view


def first_number(view: Dataset, keyword: str) -> float | None:
    """The first value of a (possibly multi-valued) numeric attribute, if present and finite."""
    value = view.get(keyword)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float):
        try:
            value = value[0]
        except (TypeError, IndexError):
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pixel_spacing(view: Dataset) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = view.get(keyword)
        try:
            row, col = (float(v) for v in value)
        except (TypeError, ValueError):
            continue
        # Some writers fill (0, 0) when the spacing is unknown (e.g. the NEMA RG1 sample).
        if row > 0 and col > 0 and math.isfinite(row) and math.isfinite(col):
            return row, col
    return None


def _functional_groups(dataset: Dataset, frame_index: int) -> list[Dataset]:
    groups: list[Dataset] = []
    shared = dataset.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    if per_frame and frame_index < len(per_frame):
        groups.append(per_frame[frame_index])  # after the shared groups: it takes precedence
    return groups


def _drop_unusable_rescale(view: Dataset) -> None:
    # A malformed optional rescale must not make a readable image unusable: treat it as identity.
    slope, intercept = first_number(view, "RescaleSlope"), first_number(view, "RescaleIntercept")
    if slope is None or intercept is None or slope == 0:
        for keyword in ("RescaleSlope", "RescaleIntercept"):
            if keyword in view:
                del view[keyword]
