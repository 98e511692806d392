"""Heatmaps of predictions: the Grad-CAM overlay of one label, drawn by the version that made the
prediction over the image as that version saw it (for CT, its lung window), and kept in a file cache.
One place for the API's heatmap and the one sent back to the PACS, so both are the same picture.

The cache is a folder (``settings.heatmaps_dir``) or any object store (`heatmap_store_from`: the
deployment's bucket when ``object_store`` is ``s3``, so every replica shares it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from imaging_ai.imaging import DecodedImage
from imaging_ai.imaging.decode import decode_slot
from imaging_ai.ml.heatmap import grad_cam, overlay_png
from imaging_ai.ml.preprocessing import model_display, tensor_from_decoded
from imaging_ai.ml.runtime import ModelRuntime
from imaging_ai.settings import Settings
from imaging_ai.storage.object_store import (
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    object_store_from,
)

HEATMAPS_FOLDER = "heatmaps"


def heatmap_store_from(settings: Settings) -> ObjectStore:
    """``<data_dir>/heatmaps`` locally, ``<s3_prefix>heatmaps/`` on S3."""
    if settings.object_store == "local":
        return LocalObjectStore(settings.heatmaps_dir)
    return object_store_from(settings, HEATMAPS_FOLDER)


class HeatmapCache:
    def __init__(self, runtime: ModelRuntime, directory: Path | ObjectStore) -> None:
        self.runtime = runtime
        self.store: ObjectStore = LocalObjectStore(directory) if isinstance(directory, Path) else directory

    @staticmethod
    def _key(prediction_id: uuid.UUID, label_index: int) -> str:
        return f"{prediction_id}-{int(label_index)}.png"

    def cached(self, prediction_id: uuid.UUID, label_index: int) -> bytes | None:
        try:
            return self.store.get(self._key(prediction_id, label_index))
        except ObjectNotFoundError:
            return None

    def draw(
        self,
        prediction_id: uuid.UUID,
        label_index: int,
        *,
        version_id: str,
        store_path: str,
        load: Callable[[], DecodedImage],
    ) -> bytes:
        """Draws and caches the overlay. Call it with no transaction open: loading weights, decoding and
        back-propagating take seconds on a large image, and must not hold SQLite's write lock."""
        model = self.runtime.version(version_id, store_path)
        with decode_slot():  # the decoded arrays live until the overlay is drawn
            decoded = load()
            cam = grad_cam(model, tensor_from_decoded(decoded, model.preprocessing), label_index)
            png = overlay_png(model_display(decoded, model.preprocessing.modality_window), cam)
        self.store.put(self._key(prediction_id, label_index), png)
        return png
