"""Running one adaptation job: verified cases -> fine-tuned candidate -> gate -> promote or hold back.

Each step commits its own short transaction, so the API sees progress while the job runs, and a
crash at any point leaves the active version serving and nothing half-registered.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.ml.adaptation import AdaptationParams, concatenate, fine_tune, replay_count
from imaging_ai.ml.data import ImageSet, load_image_set
from imaging_ai.ml.evaluation import evaluate_image_set
from imaging_ai.ml.loading import LoadedModel, load_model, model_from_weights, serialise_weights
from imaging_ai.ml.manifest import ManifestItem, stable_fraction
from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.ml.training import EpochRecord
from imaging_ai.persistence.cases import VerifiedCase, verified_cases
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import ModelVersion, TrainingJob
from imaging_ai.persistence.training_jobs import TrainingJobRepository
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.case_split import counts_by_site_and_label, split_cases
from imaging_ai.services.identity import SystemActor
from imaging_ai.services.promotion import GateDecision, GatePolicy, PromotionService, judge
from imaging_ai.services.source_data import SourceData, root_card, source_data
from imaging_ai.services.tasks import get_task
from imaging_ai.settings import Settings
from imaging_ai.storage.blob_store import BlobStore
from imaging_ai.storage.model_store import read_version, write_version

logger = logging.getLogger(__name__)

MIN_TRAINING_CASES = 10
SITE_VALIDATION_FRACTION = 0.15
REPLAY_POOL_LIMIT = 3000
HEARTBEAT_SECONDS = 5.0


class JobCancelled(Exception):
    pass


class JobRefused(Exception):
    """The job cannot produce a candidate (for example too few verified cases); says why."""


class SourceDataCache:
    """Source images decoded once per worker process (they never change)."""

    def __init__(self) -> None:
        self._sets: dict[tuple[str, str, int], ImageSet] = {}

    def get(
        self, key: tuple[str, str, int], items: Sequence[ManifestItem], labels: Sequence[str]
    ) -> ImageSet:
        if key not in self._sets:
            self._sets[key] = load_image_set(items, labels, key[2])
        return self._sets[key]


def _next_version_name(session: Session, task: str) -> str:
    numbers = [
        int(match.group(1))
        for version in ModelVersionRepository(session).for_task(task)
        if (match := re.search(r"\.v(\d+)$", version.id))
    ]
    return f"{task}.v{max(numbers, default=0) + 1}"


def _case_items(cases: Sequence[VerifiedCase], store: BlobStore) -> list[ManifestItem]:
    return [
        ManifestItem(
            path=store.path_for(case.content_sha256),
            label=case.label,
            site=case.site or "unknown",
            split="verified",
            patient_id=case.group,
        )
        for case in cases
    ]


class AdaptationJobRunner:
    def __init__(
        self, session_factory: sessionmaker[Session], settings: Settings, cache: SourceDataCache
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.store = BlobStore(settings.images_dir)
        self.cache = cache
        self.policy = GatePolicy(
            source_margin=settings.gate_source_margin, min_sequestered=settings.gate_min_sequestered
        )

    # --- state changes, each its own transaction ----------------------------------------------------

    def _update(self, job_id: uuid.UUID, **values: Any) -> None:
        with transaction(self.session_factory) as session:
            TrainingJobRepository(session).update_fields(job_id, **values)

    def _progress(self, job_id: uuid.UUID, progress: dict[str, Any]) -> None:
        self._update(job_id, progress=progress, heartbeat_at=datetime.now(UTC))

    def _cancel_requested(self, job_id: uuid.UUID) -> bool:
        with self.session_factory() as session:
            job = session.get(TrainingJob, job_id)
            return bool(job is None or job.cancel_requested)

    # --- the job ----------------------------------------------------------------------------------

    def run(self, job_id: uuid.UUID) -> None:
        stop_heartbeat = threading.Event()
        heartbeat = threading.Thread(target=self._beat, args=(job_id, stop_heartbeat), daemon=True)
        heartbeat.start()
        started = time.perf_counter()
        try:
            self._run(job_id, started)
        except JobCancelled:
            self._update(
                job_id, status="cancelled", finished_at=datetime.now(UTC), progress={"stage": "cancelled"}
            )
        except JobRefused as refusal:
            self._update(
                job_id,
                status="failed",
                finished_at=datetime.now(UTC),
                error=str(refusal),
                progress={"stage": "refused"},
            )
        except Exception as exc:
            logger.exception("training job failed", extra={"job_id": str(job_id)})
            self._update(
                job_id,
                status="failed",
                finished_at=datetime.now(UTC),
                error=f"{type(exc).__name__}: the job failed; see the worker log",
                progress={"stage": "failed"},
            )
        finally:
            stop_heartbeat.set()
            heartbeat.join(timeout=HEARTBEAT_SECONDS * 2)

    def _beat(self, job_id: uuid.UUID, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self._update(job_id, heartbeat_at=datetime.now(UTC))
            except Exception:
                logger.warning("heartbeat failed", extra={"job_id": str(job_id)})

    def _run(self, job_id: uuid.UUID, started: float) -> None:
        with transaction(self.session_factory) as session:
            job = session.get(TrainingJob, job_id)
            assert job is not None
            task = get_task(job.task)
            active = ModelVersionRepository(session).active(task.name)
            if active is None:
                raise JobRefused(f"Task {task.name} has no active version to adapt.")
            params = AdaptationParams(
                **{k: v for k, v in job.parameters.items() if k in AdaptationParams.__dataclass_fields__}
            )
            split = split_cases(verified_cases(session, task.name))
            source = source_data(session, task, active.id, self.settings.datasets_dir)
            root_metrics = (root_card(session, active.id) or {}).get("metrics")
            root_source = root_metrics.get("source-test") if isinstance(root_metrics, dict) else None
            root_source_auc = root_source.get("auc") if isinstance(root_source, dict) else None
            active_id, active_path = active.id, active.store_path
            job.training_set = {
                "case_ids": [str(case.prediction_id) for case in split.training],
                "counts": counts_by_site_and_label(split.training),
                "sequestered_counts": counts_by_site_and_label(split.sequestered),
            }
            job.progress = {"stage": "loading images", "training_cases": len(split.training)}
        labels_present = {case.label for case in split.training}
        if len(split.training) < MIN_TRAINING_CASES or len(labels_present) < 2:
            raise JobRefused(
                f"Not enough verified training cases: {len(split.training)} with labels "
                f"{sorted(labels_present)}; "
                f"at least {MIN_TRAINING_CASES} with two labels are needed."
            )
        parent = load_model(read_version(Path(active_path)))
        size = parent.preprocessing.input_size
        site_val_cases = [c for c in split.training if stable_fraction(c.group, 7) < SITE_VALIDATION_FRACTION]
        site_train_cases = [
            c for c in split.training if stable_fraction(c.group, 7) >= SITE_VALIDATION_FRACTION
        ]
        site_train = load_image_set(_case_items(site_train_cases, self.store), task.labels, size)
        site_val = load_image_set(_case_items(site_val_cases, self.store), task.labels, size)
        replay_pool, source_validation = self._source_samples(
            source, task, size, replay_count(len(site_train), params), params.seed
        )
        validation = site_val
        if source_validation is not None and (len(site_val) < 20 or len(set(site_val.labels.tolist())) < 2):
            # Too few held-out site cases to steer early stopping alone: add some source images.
            validation = concatenate(site_val, source_validation)

        def on_epoch(record: EpochRecord) -> None:
            self._progress(job_id, {"stage": "training", **asdict(record), "epochs": params.epochs})

        last_check = [0.0]

        def should_stop() -> bool:
            now = time.monotonic()
            if now - last_check[0] < 2.0:
                return False
            last_check[0] = now
            if self._cancel_requested(job_id):
                raise JobCancelled()
            return False

        result = fine_tune(
            parent,
            site_train,
            validation,
            replay_pool,
            params=params,
            on_epoch=on_epoch,
            should_stop=should_stop,
        )
        self._progress(job_id, {"stage": "evaluating"})
        weights = serialise_weights(result.training.network)
        with self.session_factory() as session:
            name = _next_version_name(session, task.name)
        candidate = model_from_weights(
            weights,
            version=name,
            task=task,
            architecture=parent.architecture,
            preprocessing=parent.preprocessing,
            temperature=result.temperature,
        )
        sequestered = self._evaluate_sequestered(parent, candidate, split.sequestered, task, size)
        source_eval = self._evaluate_source(parent, candidate, source, task, size)
        decision = judge(
            sequestered=sequestered, source=source_eval, policy=self.policy, root_source_auc=root_source_auc
        )
        if self._cancel_requested(job_id):
            raise JobCancelled()
        card = self._card(
            parent, task, params, result, split.training, site_val_cases, decision, job_id, started
        )
        stored = write_version(
            self.settings.trained_models_dir,
            version=name,
            task=task.name,
            weights=weights,
            card=card,
            preprocessing=parent.preprocessing.to_dict(),
        )
        self._register(job_id, stored.path, stored.weights_sha256, name, active_id, task, decision, started)

    @staticmethod
    def _source_samples(
        source: SourceData | None, task: TaskSpec, size: int, replay_count: int, seed: int
    ) -> tuple[ImageSet | None, ImageSet | None]:
        """Disjoint seeded samples of the source training images: ones to replay, and 100 to validate on."""
        if source is None:
            return None, None
        ordered = sorted(source.train, key=lambda item: stable_fraction(str(item.path), seed))
        replay = load_image_set(ordered[:replay_count], task.labels, size) if replay_count > 0 else None
        extra = load_image_set(ordered[replay_count : replay_count + 100], task.labels, size)
        return replay, extra

    def _evaluate_sequestered(
        self,
        parent: LoadedModel,
        candidate: LoadedModel,
        cases: Sequence[VerifiedCase],
        task: TaskSpec,
        size: int,
    ) -> dict[str, Any]:
        images = load_image_set(_case_items(cases, self.store), task.labels, size)
        result: dict[str, Any] = {}
        if len(images):
            result = {
                "active": evaluate_image_set(parent, images),
                "candidate": evaluate_image_set(candidate, images),
            }
        sites: dict[str, Any] = {}
        for site in sorted({case.site or "unknown" for case in cases}):
            index = [i for i, case in enumerate(cases) if (case.site or "unknown") == site]
            subset = ImageSet(
                images=images.images[index],
                labels=images.labels[index],
                items=[images.items[i] for i in index],
            )
            sites[site] = {
                "active": evaluate_image_set(parent, subset),
                "candidate": evaluate_image_set(candidate, subset),
            }
        result["sites"] = sites
        return result

    def _evaluate_source(
        self,
        parent: LoadedModel,
        candidate: LoadedModel,
        source: SourceData | None,
        task: TaskSpec,
        size: int,
    ) -> dict[str, Any] | None:
        if source is None or not source.test:
            return None
        images = self.cache.get((source.dataset, "test", size), source.test, task.labels)
        return {
            "active": evaluate_image_set(parent, images),
            "candidate": evaluate_image_set(candidate, images),
        }

    def _card(
        self,
        parent: LoadedModel,
        task: TaskSpec,
        params: AdaptationParams,
        result: Any,
        training_cases: Sequence[VerifiedCase],
        validation_cases: Sequence[VerifiedCase],
        decision: GateDecision,
        job_id: uuid.UUID,
        started: float,
    ) -> dict[str, Any]:
        evaluation = decision.evaluation
        metrics: dict[str, Any] = {}
        if evaluation["sequestered"].get("candidate"):
            metrics["sequestered"] = evaluation["sequestered"]["candidate"]
        for site, pair in evaluation["sequestered"].get("sites", {}).items():
            metrics[f"sequestered:{site}"] = pair["candidate"]
        if evaluation.get("source_test"):
            metrics["source-test"] = evaluation["source_test"]["candidate"]
        parent_card = read_version(Path(self._store_path(parent.version))).card
        return {
            "labels": list(task.labels),
            "modality": task.modality,
            "architecture": parent.architecture,
            "input": parent_card.get("input"),
            "training_data": {
                "datasets": ["verified cases", *parent_card.get("training_data", {}).get("datasets", [])[:1]],
                "sites": sorted({case.site or "unknown" for case in training_cases}),
                "counts_per_label": {"verified_training": counts_by_site_and_label(training_cases)},
                "replayed_source_images": result.replayed,
                "split_rule": "verified cases split by pseudonymous patient: ~20% sequestered "
                "(never trained on); "
                f"of the rest, {len(validation_cases)} cases held out for early stopping and calibration",
            },
            "parent_version": parent.version,
            "training_job": str(job_id),
            "training": {
                "method": "fine-tune from the parent with replay of source training images, class-balanced, "
                "augmented as base training",
                "params": asdict(params),
                "history": [asdict(record) for record in result.training.history],
                "best_epoch": result.training.best_epoch,
                "seconds": round(time.perf_counter() - started, 1),
            },
            "calibration": {
                "method": "temperature scaling on held-out verified cases",
                "temperature": round(result.temperature, 4),
            },
            "metrics": metrics,
            "gate": {"decision": "promoted" if decision.promote else "held_back", "reason": decision.reason},
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _store_path(self, version: str) -> str:
        with self.session_factory() as session:
            record = ModelVersionRepository(session).get(version)
            assert record is not None
            return record.store_path

    def _register(
        self,
        job_id: uuid.UUID,
        path: Path,
        sha256: str,
        name: str,
        parent_id: str,
        task: TaskSpec,
        decision: GateDecision,
        started: float,
    ) -> None:
        with transaction(self.session_factory) as session:
            ModelVersionRepository(session).add(
                ModelVersion(
                    id=name,
                    task=task.name,
                    status="candidate",
                    parent_id=parent_id,
                    store_path=str(path),
                    weights_sha256=sha256,
                )
            )
            job = session.get(TrainingJob, job_id)
            assert job is not None
            if decision.promote:
                active = ModelVersionRepository(session).active(task.name)
                if active is not None and active.id != parent_id:
                    decision = GateDecision(
                        False,
                        f"held back: the active version changed to {active.id} while training",
                        decision.evaluation,
                    )
                else:
                    PromotionService(session).activate(
                        name,
                        actor=SystemActor(f"training-job:{job_id}"),
                        reason=decision.reason,
                        metrics=_gate_summary(decision),
                    )
            job.status = "succeeded"
            job.candidate_version_id = name
            job.decision = "promoted" if decision.promote else "held_back"
            job.decision_reason = decision.reason
            job.evaluation = decision.evaluation
            job.finished_at = datetime.now(UTC)
            job.progress = {
                **job.progress,
                "stage": "done",
                "seconds": round(time.perf_counter() - started, 1),
            }


def _gate_summary(decision: GateDecision) -> dict[str, Any]:
    evaluation = decision.evaluation
    summary: dict[str, Any] = {}
    for key, name in (("sequestered", "sequestered"), ("source_test", "source_test")):
        pair = evaluation.get(key) or {}
        summary[name] = {side: (pair.get(side) or {}).get("auc") for side in ("active", "candidate")}
    return summary
