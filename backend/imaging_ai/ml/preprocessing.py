"""The preprocessing from a decoded image to a model input tensor, shared by training and serving.

Its parameters are part of every model version (``preprocessing.json`` in the model store), so a
version is always served with exactly the preprocessing it was trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from imaging_ai.imaging import DecodedImage, decode_image


@dataclass(frozen=True)
class PreprocessingSpec:
    input_size: int
    """Images are resized (whole field of view, no crop) to input_size x input_size."""
    mean: float
    std: float
    version: int = 1

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PreprocessingSpec:
        return cls(
            input_size=int(data["input_size"]),  # type: ignore[call-overload]
            mean=float(data["mean"]),  # type: ignore[arg-type]
            std=float(data["std"]),  # type: ignore[arg-type]
            version=int(data.get("version", 1)),  # type: ignore[call-overload]
        )


def resize_display(display: np.ndarray, size: int) -> np.ndarray:
    """Resize the canonical [0, 1] grey array to size x size (antialiased bilinear, float precision)."""
    image = Image.fromarray(np.ascontiguousarray(display, dtype=np.float32), mode="F")
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def normalise(resized: np.ndarray, spec: PreprocessingSpec) -> torch.Tensor:
    """(1, H, W) float tensor ready for the network."""
    tensor = torch.from_numpy(np.clip(resized, 0.0, 1.0).copy())
    return ((tensor - spec.mean) / spec.std).unsqueeze(0)


def tensor_from_decoded(decoded: DecodedImage, spec: PreprocessingSpec) -> torch.Tensor:
    return normalise(resize_display(decoded.display, spec.input_size), spec)


def tensor_from_bytes(data: bytes, spec: PreprocessingSpec, *, max_pixels: int) -> torch.Tensor:
    """The whole path from file bytes to model input, as used by training and by serving."""
    return tensor_from_decoded(decode_image(data, max_pixels=max_pixels), spec)
