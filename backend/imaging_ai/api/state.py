"""Process-wide resources the app is built with (one engine, one session factory, one store)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.imaging.decode import set_max_concurrent_decodes
from imaging_ai.ml.device import resolve_device
from imaging_ai.ml.runtime import ModelRuntime
from imaging_ai.persistence.database import create_db_engine, create_session_factory
from imaging_ai.services.cases.heatmaps import heatmap_store_from
from imaging_ai.settings import Settings
from imaging_ai.storage.blob_store import BlobStore, blob_store_from
from imaging_ai.storage.model_folders import configure_model_folders
from imaging_ai.storage.object_store import ObjectStore


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blob_store: BlobStore
    runtime: ModelRuntime
    heatmaps: ObjectStore
    """The heatmap cache (`settings.heatmaps_dir`, or the bucket's ``heatmaps/`` on S3)."""

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        engine = create_db_engine(settings.resolved_database_url)
        # Process-wide: the decoders are shared by every request of the process.
        set_max_concurrent_decodes(settings.max_concurrent_decodes)
        configure_model_folders(settings)  # where versions trained at run time are read from
        return cls(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            blob_store=blob_store_from(settings),
            runtime=ModelRuntime(
                settings.model_cache_size,
                max_batch=settings.inference_max_batch,
                device=resolve_device(settings.device),
            ),
            heatmaps=heatmap_store_from(settings),
        )
