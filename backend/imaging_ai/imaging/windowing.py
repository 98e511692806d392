"""Value-of-interest (VOI) functions that map modality values to display values in [0, 1].

Formulas of DICOM PS3.3 C.11.2.1.2 (LINEAR) and C.11.2.1.3 (LINEAR_EXACT, SIGMOID), with the
output range fixed to [0, 1] instead of the display's bit range.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]

BLOCK_ELEMENTS = 1 << 18
"""Elements per block of the float64 arithmetic below: 2 MB per temporary, whatever the image size."""


def blockwise(
    values: npt.NDArray[np.generic],
    function: Callable[[Float64Array], npt.NDArray[np.generic]],
    dtype: type[np.generic] = np.float32,
) -> npt.NDArray[np.generic]:
    """`function` (element-wise, on float64) applied to `values` one block at a time, stored as `dtype`.

    Exactly what ``function(values.astype(np.float64)).astype(dtype)`` gives, but the float64
    temporaries (8 bytes a pixel each, and a formula makes several) cover one block instead of the
    whole image: on a 40-megapixel image that is the difference between about 1 GB and 10 MB.
    """
    result = np.empty(values.shape, dtype=dtype)
    source, target = np.ascontiguousarray(values).reshape(-1), result.reshape(-1)
    for start in range(0, source.size, BLOCK_ELEMENTS):
        stop = start + BLOCK_ELEMENTS
        target[start:stop] = function(source[start:stop].astype(np.float64))
    return result


def _float32(values: npt.NDArray[np.generic], function: Callable[[Float64Array], Float64Array]) -> FloatArray:
    result: FloatArray = blockwise(values, function, np.float32)  # type: ignore[assignment]
    return result


def _quiet() -> np.errstate:
    # Extreme but finite header values (a width of 1e-300, a center of 1e300) overflow to +-inf
    # before clipping, which gives the right 0 or 1: not worth a warning. (A new errstate per
    # use: one shared instance is not safe across threads.)
    return np.errstate(over="ignore", under="ignore")


def linear_window(values: FloatArray, center: float, width: float) -> FloatArray:
    """The LINEAR window; for 0 < width < 1 (undefined for LINEAR) the LINEAR_EXACT one."""
    if not width > 0:  # also refuses NaN
        raise ValueError("window width must be > 0")
    if width < 1:
        return exact_window(values, center, width)
    if width == 1:
        # The ramp has zero length: everything up to the threshold is black, the rest white.
        return _float32(values, lambda x: (x > center - 0.5).astype(np.float64))
    with _quiet():
        return _float32(values, lambda x: np.clip((x - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0))


def exact_window(values: FloatArray, center: float, width: float) -> FloatArray:
    if not width > 0:
        raise ValueError("window width must be > 0")
    with _quiet():
        return _float32(values, lambda x: np.clip((x - center) / width + 0.5, 0.0, 1.0))


def sigmoid_window(values: FloatArray, center: float, width: float) -> FloatArray:
    if not width > 0:
        raise ValueError("window width must be > 0")
    with _quiet():
        return _float32(
            values, lambda x: 1.0 / (1.0 + np.exp(np.clip(-4.0 * (x - center) / width, -700.0, 700.0)))
        )


def voi_window(values: FloatArray, center: float, width: float, function: str) -> FloatArray:
    """The window named by a VOI LUT Function value; unknown names fall back to LINEAR."""
    if function == "SIGMOID":
        return sigmoid_window(values, center, width)
    if function == "LINEAR_EXACT":
        return exact_window(values, center, width)
    return linear_window(values, center, width)


def window_for_range(low: float, high: float) -> tuple[float, float]:
    """The (center, width) whose LINEAR window maps `low` to 0 and `high` to 1 exactly.

    C.11.2.1.2.1 ramps from c - 0.5 - (w-1)/2 to c - 0.5 + (w-1)/2, hence the +0.5 and +1.
    For 8-bit data (0..255) this is the familiar (128, 256).
    """
    return float((low + high) / 2 + 0.5), float(high - low + 1)


def range_display(values: FloatArray, low: float, high: float) -> FloatArray:
    """`values` scaled so `low` is 0 and `high` is 1 (clipped); all zeros when the range is empty."""
    if not high > low:
        return np.zeros(values.shape, dtype=np.float32)
    with _quiet():
        return _float32(values, lambda x: np.clip((x - low) / (high - low), 0.0, 1.0))


def min_max_display(values: FloatArray) -> tuple[FloatArray, tuple[float, float]]:
    """The full-range display of `values` and the window that reproduces it."""
    low, high = float(values.min()), float(values.max())
    return range_display(values, low, high), window_for_range(low, high)
