"""The training worker: claims queued jobs from the database and runs them, one at a time.

Several workers may share one database: a job is claimed by a conditional update that only one of
them can win. A worker that dies mid-job stops its heartbeat; any worker then marks that job failed
and removes what it left half-written, while the active version keeps serving throughout.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.ml.device import resolve_device
from imaging_ai.ml.runtime import ModelRuntime
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.training_jobs import TrainingJobRepository
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.cases.heatmaps import heatmap_store_from
from imaging_ai.services.cases.images import IngestionService
from imaging_ai.services.cases.learning_queue import LearningQueue
from imaging_ai.services.results.heatmaps import HeatmapRenderer
from imaging_ai.services.results.outbox import DeliveryPolicy
from imaging_ai.services.results.sender import ResultSender
from imaging_ai.services.training.adaptation_job import AdaptationJobRunner, SourceDataCache
from imaging_ai.settings import Settings
from imaging_ai.storage.blob_store import blob_store_from
from imaging_ai.storage.model_folders import ModelFolders, configure_model_folders
from imaging_ai.storage.model_store import ModelStoreError, list_versions, remove_partial_versions
from imaging_ai.vocabulary import TrainingJobStatus

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=30)
"""A running job whose heartbeat (every 5 s) is older than this is abandoned: its worker died (SIGKILL,
OOM, a lost host). It is failed, not requeued: a job that killed its worker could kill the next one, and
a new job is one request away; the serving versions were never touched (a job changes them only in its
last transaction, with the candidate registered)."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self, session_factory: sessionmaker[Session], settings: Settings, worker_id: str | None = None
    ):
        self.session_factory = session_factory
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.runner = AdaptationJobRunner(session_factory, settings, SourceDataCache())
        configure_model_folders(settings)
        self.blob_store = blob_store_from(settings)
        # One version at a time on one core: re-scoring is background work beside training.
        self.runtime = ModelRuntime(2, max_batch=1, device=resolve_device(settings.device))
        # Results back to the PACS (issue #16): sent between job polls, when a destination is set.
        self.results: ResultSender | None = None
        if settings.results_destination_url:
            heatmaps = HeatmapRenderer(
                session_factory,
                self.runtime,
                self.blob_store,
                heatmap_store_from(settings),
                max_image_pixels=settings.max_image_pixels,
                pseudonym_key=settings.pseudonym_key_bytes,
            )
            self.results = ResultSender(
                session_factory, DeliveryPolicy.from_settings(settings), heatmaps, self.worker_id
            )

    def recover_abandoned_jobs(self, now: datetime | None = None) -> list[uuid.UUID]:
        """Fails running jobs whose worker stopped beating, and removes their partial files."""
        now = now or datetime.now(UTC)
        recovered = []
        with transaction(self.session_factory) as session:
            for job in TrainingJobRepository(session).running():
                heartbeat = job.heartbeat_at or job.started_at
                if heartbeat is not None and now - heartbeat < STALE_AFTER:
                    continue
                job.status = TrainingJobStatus.failed
                job.error = "The worker stopped during the job; the active version was not changed."
                job.finished_at = now
                job.progress = {**job.progress, "stage": "abandoned"}
                recovered.append(job.id)
            registered = ModelVersionRepository(session).all_ids() if recovered else set()
        remove_partial_versions(self.settings.trained_models_dir)
        self._remove_unregistered_versions(recovered, registered)
        for job_id in recovered:
            logger.warning("abandoned training job marked failed", extra={"job_id": str(job_id)})
        return recovered

    def run_once(self) -> uuid.UUID | None:
        """Claims and runs one queued job; returns its id, or None when the queue is empty."""
        self.recover_abandoned_jobs()
        with transaction(self.session_factory) as session:
            job = TrainingJobRepository(session).claim_next(self.worker_id, datetime.now(UTC))
            job_id = job.id if job else None
        if job_id is None:
            return None
        logger.info("training job started", extra={"job_id": str(job_id), "worker": self.worker_id})
        self.runner.run(job_id)
        logger.info("training job finished", extra={"job_id": str(job_id)})
        return job_id

    def run_forever(self, *, max_jobs: int | None = None) -> None:
        done = 0
        while max_jobs is None or done < max_jobs:
            delivered = self.deliver_results()
            if self.run_once() is not None:
                done += 1
            elif self.rescore_learning_queue() == 0 and delivered == 0:
                time.sleep(self.settings.worker_poll_seconds)

    def deliver_results(self, limit: int = 16) -> int:
        """Sends the results due to the PACS (claimed, so two workers never send one twice); returns how
        many deliveries were attempted. Nothing without a destination."""
        return self.results.send_due(limit) if self.results is not None else 0

    def rescore_learning_queue(self, limit: int = 32) -> int:
        """Re-scores waiting cases whose learning score is by a version that no longer serves their site
        (after a promotion or rollback); returns how many were re-scored."""
        with transaction(self.session_factory) as session:
            ingestion = IngestionService(
                session,
                self.blob_store,
                max_image_pixels=self.settings.max_image_pixels,
                pseudonym_key=self.settings.pseudonym_key_bytes,
            )
            queue = LearningQueue(session, random_share=self.settings.learning_random_share)
            return queue.rescore_stale(self.runtime, ingestion, limit=limit)

    def _remove_unregistered_versions(self, job_ids: list[uuid.UUID], registered: set[str]) -> None:
        # A version folder written by an abandoned job but never registered is not a real version.
        wanted = {str(job_id) for job_id in job_ids}
        if not wanted:
            return
        ModelFolders(self.settings).remove_remote_versions(
            lambda card: card.get("training_job") in wanted and card.get("version") not in registered
        )
        try:
            versions = list_versions(self.settings.trained_models_dir)
        except ModelStoreError:
            return
        for stored in versions:
            if stored.card.get("training_job") in wanted and stored.version not in registered:
                shutil.rmtree(Path(stored.path), ignore_errors=True)
