"""Loading manifest images into memory through the canonical decoding and preprocessing path."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from imaging_ai.imaging import decode_image
from imaging_ai.ml.manifest import ManifestItem
from imaging_ai.ml.preprocessing import ModalityWindow, model_display, resize_display

MAX_PIXELS = 100_000_000


@dataclass
class ImageSet:
    """Resized [0, 1] images (N, S, S) and label indices (N,), before augmentation and normalisation."""

    images: torch.Tensor
    labels: torch.Tensor
    items: list[ManifestItem]

    def __len__(self) -> int:
        return len(self.items)


def _load_one(item: ManifestItem, size: int, window: ModalityWindow | None) -> np.ndarray:
    decoded = decode_image(item.path.read_bytes(), max_pixels=MAX_PIXELS)
    return resize_display(model_display(decoded, window), size)


def load_image_set(
    items: Sequence[ManifestItem],
    labels: Sequence[str],
    size: int,
    *,
    workers: int = 2,
    window: ModalityWindow | None = None,
) -> ImageSet:
    """``window``: the version's `PreprocessingSpec.modality_window`, as `tensor_from_decoded` applies it."""
    # Decoding releases the GIL in PIL and pydicom's decoders, so threads use both cores.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        arrays = list(pool.map(lambda item: _load_one(item, size, window), items))
    images = torch.from_numpy(np.stack(arrays)) if arrays else torch.empty(0, size, size)
    label_index = {label: k for k, label in enumerate(labels)}
    targets = torch.tensor([label_index[item.label] for item in items], dtype=torch.long)
    return ImageSet(images=images, labels=targets, items=list(items))
