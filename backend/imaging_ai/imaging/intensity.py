"""The input-drift statistic: a normalised intensity histogram of the canonical display image.

Computed the same way for training images (the reference) and for each image served, from
`DecodedImage.display` (VOI applied, MONOCHROME1 inverted, values in [0, 1]).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

HISTOGRAM_BINS = 32
_MAX_SAMPLES = 65_536  # a strided subsample is plenty for 32 bins, and keeps large images cheap


def intensity_histogram(display: npt.NDArray[np.float32], bins: int = HISTOGRAM_BINS) -> list[float]:
    flat = display.reshape(-1)
    if flat.size > _MAX_SAMPLES:
        flat = flat[:: flat.size // _MAX_SAMPLES]
    counts, _ = np.histogram(np.clip(flat, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    total = counts.sum()
    return [round(float(c) / total, 6) for c in counts] if total else [0.0] * bins
