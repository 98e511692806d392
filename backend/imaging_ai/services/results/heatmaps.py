"""The heatmap a result carries: the same Grad-CAM overlay `GET /predictions/{id}/heatmap` serves, from
the same cache (`services/cases/heatmaps.py`)."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.ml.runtime import ModelRuntime
from imaging_ai.ml.tasks import get_task
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import Image, Prediction
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.cases.heatmaps import HeatmapCache
from imaging_ai.services.cases.images import IngestionService
from imaging_ai.storage.blob_store import BlobStore
from imaging_ai.storage.object_store import ObjectStore


class HeatmapRenderer:
    """Draws (or reads back) the predicted label's heatmap of a prediction, outside any transaction
    while the model runs."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        runtime: ModelRuntime,
        blob_store: BlobStore,
        heatmap_dir: Path | ObjectStore,
        *,
        max_image_pixels: int,
        pseudonym_key: bytes,
    ) -> None:
        self.session_factory = session_factory
        self.runtime = runtime
        self.blob_store = blob_store
        self.heatmap_dir = heatmap_dir
        self.max_image_pixels = max_image_pixels
        self.pseudonym_key = pseudonym_key

    def __call__(self, prediction_id: uuid.UUID) -> bytes:
        heatmaps = HeatmapCache(self.runtime, self.heatmap_dir)
        with transaction(self.session_factory) as session:
            prediction = session.get(Prediction, prediction_id)
            assert prediction is not None
            index = get_task(prediction.task).label_index(prediction.predicted_label)
            cached = heatmaps.cached(prediction.id, index)
            if cached is not None:
                return cached
            version = ModelVersionRepository(session).get(prediction.model_version_id)
            image = session.get(Image, prediction.image_id)
            assert version is not None and image is not None
            version_id, store_path = version.id, version.store_path
            ingestion = IngestionService(
                session,
                self.blob_store,
                max_image_pixels=self.max_image_pixels,
                pseudonym_key=self.pseudonym_key,
            )
        return heatmaps.draw(
            prediction_id,
            index,
            version_id=version_id,
            store_path=store_path,
            load=lambda: ingestion.load(image),
        )
