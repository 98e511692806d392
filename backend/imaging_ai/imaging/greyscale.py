"""Colour to greyscale, the same way for every source format."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from imaging_ai.imaging.windowing import BLOCK_ELEMENTS

# ITU-R BT.601 luma weights, the ones JPEG and DICOM YBR_FULL use.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def to_greyscale(rgb: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    """(rows, cols, 3) -> (rows, cols) float32: a channel as is when all three are equal (a grey
    image saved as colour must decode exactly like its greyscale version), else BT.601 luma."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if np.array_equal(red, green) and np.array_equal(green, blue):
        return red.astype(np.float32)
    # Row blocks: the float64 copy of all three channels would cost 24 bytes a pixel at once.
    weights = np.asarray(_LUMA_WEIGHTS, dtype=np.float64)
    grey = np.empty(rgb.shape[:2], dtype=np.float32)
    step = max(1, BLOCK_ELEMENTS // max(1, rgb.shape[1]))
    for start in range(0, rgb.shape[0], step):
        grey[start : start + step] = rgb[start : start + step, :, :3].astype(np.float64) @ weights
    return grey
