"""Colour to greyscale, the same way for every source format."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# ITU-R BT.601 luma weights, the ones JPEG and DICOM YBR_FULL use.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def to_greyscale(rgb: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    """(rows, cols, 3) -> (rows, cols) float32: a channel as is when all three are equal (a grey
    image saved as colour must decode exactly like its greyscale version), else BT.601 luma."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if np.array_equal(red, green) and np.array_equal(green, blue):
        return red.astype(np.float32)
    weighted = rgb[..., :3].astype(np.float64) @ np.asarray(_LUMA_WEIGHTS, dtype=np.float64)
    return np.asarray(weighted, dtype=np.float32)
