"""The preprocessing from a decoded image to a model input tensor, shared by training and serving.

Its parameters are part of every model version (``preprocessing.json`` in the model store), so a
version is always served with exactly the preprocessing it was trained with.

The grey image a model sees is the decoder's canonical display (the file's own VOI window, MONOCHROME1
inverted), except when the version names a modality window (``modality_window``, e.g. the chest CT
task's lung window): a DICOM image of that modality is then windowed from its modality values (Hounsfield
units for CT), whatever window the file carries, so that a slice looks as the training images did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from imaging_ai.imaging import DecodedImage, ImageFormat, decode_image
from imaging_ai.imaging.windowing import linear_window


@dataclass(frozen=True)
class ModalityWindow:
    """A LINEAR window (DICOM PS3.3 C.11.2.1.2) on the modality values of DICOM images of one modality."""

    modality: str
    """DICOM Modality, e.g. "CT"."""
    center: float
    """In modality units (Hounsfield units for CT)."""
    width: float

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ValueError("window width must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return {"modality": self.modality, "center": self.center, "width": self.width}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModalityWindow:
        return cls(modality=str(data["modality"]), center=float(data["center"]), width=float(data["width"]))


@dataclass(frozen=True)
class PreprocessingSpec:
    input_size: int
    """Images are resized (whole field of view, no crop) to input_size x input_size."""
    mean: float
    std: float
    version: int = 1
    modality_window: ModalityWindow | None = None
    """DICOM images of this modality are windowed from their modality values with it instead of the
    file's own window; None (every version before the CT task): the file's window, as always."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "input_size": self.input_size,
            "mean": self.mean,
            "std": self.std,
            "version": self.version,
        }
        # Absent, not null, when unset: the versions written before it keep their exact file.
        if self.modality_window is not None:
            data["modality_window"] = self.modality_window.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessingSpec:
        window = data.get("modality_window")
        return cls(
            input_size=int(data["input_size"]),
            mean=float(data["mean"]),
            std=float(data["std"]),
            version=int(data.get("version", 1)),
            modality_window=ModalityWindow.from_dict(window) if window is not None else None,
        )


def model_display(decoded: DecodedImage, window: ModalityWindow | None) -> np.ndarray:
    """The [0, 1] grey image a model sees: ``decoded.display``, except for a DICOM image of the window's
    modality, which is windowed from its modality values (``pixels``: Rescale Slope/Intercept applied,
    e.g. Hounsfield units), ignoring the file's own VOI window. PNG/JPEG carry no modality values (their
    pixels are already a display) and keep ``display``."""
    if (
        window is None
        or decoded.metadata.format != ImageFormat.DICOM
        or (decoded.metadata.modality or "").upper() != window.modality.upper()
    ):
        return decoded.display
    shown = linear_window(decoded.pixels, window.center, window.width)
    # Inverted grey scales (Presentation LUT Shape INVERSE, MONOCHROME1) show low values white; for
    # modality values windowed here, the decoder's inversion is kept so the sense matches `display`.
    return 1.0 - shown if decoded.invert else shown


def resize_display(display: np.ndarray, size: int) -> np.ndarray:
    """Resize the canonical [0, 1] grey array to size x size (antialiased bilinear, float precision)."""
    image = Image.fromarray(np.ascontiguousarray(display, dtype=np.float32), mode="F")
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def normalise(resized: np.ndarray, spec: PreprocessingSpec) -> torch.Tensor:
    """(1, H, W) float tensor ready for the network."""
    tensor = torch.from_numpy(np.clip(resized, 0.0, 1.0).copy())
    return ((tensor - spec.mean) / spec.std).unsqueeze(0)


def tensor_from_decoded(decoded: DecodedImage, spec: PreprocessingSpec) -> torch.Tensor:
    return normalise(resize_display(model_display(decoded, spec.modality_window), spec.input_size), spec)


def tensor_from_bytes(data: bytes, spec: PreprocessingSpec, *, max_pixels: int) -> torch.Tensor:
    """The whole path from file bytes to model input, as used by training and by serving."""
    return tensor_from_decoded(decode_image(data, max_pixels=max_pixels), spec)
