"""Running one adaptation job: verified cases -> fine-tuned candidate -> gate -> promote or hold back.

The runner owns transactions, the heartbeat and cancellation; the data recipe is `ml/adaptation_data`,
the comparisons `ml/comparison`, the rules `services/gate`, the card `services/version_card`. Each step
commits its own short transaction, so the API sees progress while the job runs, and a crash at any
point leaves every serving version in place and nothing half-registered.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.ml.adaptation import AdaptationParams, concatenate, fine_tune
from imaging_ai.ml.adaptation_data import SITE_THRESHOLD_MIN_CASES, load_plan, plan_adaptation, refusal
from imaging_ai.ml.comparison import Comparison, compare
from imaging_ai.ml.data import ImageSet, load_image_set
from imaging_ai.ml.density_fit import candidate_density
from imaging_ai.ml.device import resolve_device
from imaging_ai.ml.evaluation import scored_cases, threshold_on
from imaging_ai.ml.loading import LoadedModel, load_model, model_from_weights, serialise_weights
from imaging_ai.ml.manifest import ManifestItem
from imaging_ai.ml.operating_point import ThresholdChoice
from imaging_ai.ml.tasks import TaskSpec, get_task
from imaging_ai.ml.training import EpochRecord
from imaging_ai.persistence.cases import VerifiedCase, verified_cases
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import ModelVersion, TrainingJob
from imaging_ai.persistence.serving import ServingRepository
from imaging_ai.persistence.training_jobs import TrainingJobRepository
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.accounts.identity import SystemActor
from imaging_ai.services.models.serving import NoServingVersionError, ServingService
from imaging_ai.services.training.case_split import counts_by_site_and_label, split_cases
from imaging_ai.services.training.gate import GateDecision, GatePolicy, judge
from imaging_ai.services.training.promotion import PromotionService
from imaging_ai.services.training.source_data import SourceData, source_data
from imaging_ai.services.training.version_card import CardInputs, adapted_version_card
from imaging_ai.settings import Settings
from imaging_ai.storage.blob_store import BlobStore, blob_store_from
from imaging_ai.storage.model_folders import ModelFolders, model_folder
from imaging_ai.storage.model_store import FEATURE_DENSITY_FILE, StoredVersion, read_version
from imaging_ai.vocabulary import ModelVersionStatus, PromotionDecision, TrainingJobStatus

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
UNKNOWN_SITE = "unknown"


class JobCancelled(Exception):
    pass


class JobRefused(Exception):
    """The job cannot produce a candidate (for example too few verified cases); says why."""


class JobLost(Exception):
    """The job is no longer this runner's: another worker found its heartbeat stale (a paused machine)
    and failed it. Its candidate is neither registered nor promoted; the job keeps that failure."""


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


@dataclass(frozen=True)
class Served:
    """A version serving a site (or the task's default), and the threshold it serves there."""

    version_id: str
    store_path: str
    threshold: float | None


@dataclass(frozen=True)
class JobInputs:
    task: TaskSpec
    site: str | None
    params: AdaptationParams
    parent: Served
    default: Served
    root: Served | None
    """The default's lineage root (the shipped version), when it is not the default itself: the source may
    never fall further than the margin below where the task started, however many promotions follow."""
    site_thresholds: dict[str, float | None]
    """The default version's served threshold at each site it serves that has sequestered cases."""
    training: list[VerifiedCase]
    sequestered: list[VerifiedCase]
    source: SourceData | None
    looks: int


def _next_version_name(session: Session, task: str) -> str:
    numbers = [
        int(match.group(1))
        for version in ModelVersionRepository(session).for_task(task)
        if (match := re.search(r"\.v(\d+)$", version.id))
    ]
    return f"{task}.v{max(numbers, default=0) + 1}"


def _site_of(case: VerifiedCase) -> str:
    return case.site or UNKNOWN_SITE


def _case_items(cases: Sequence[VerifiedCase], store: BlobStore) -> list[ManifestItem]:
    return [
        ManifestItem(
            path=store.local_path(case.content_sha256),
            label=case.label,
            site=_site_of(case),
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
        # Fine-tuning and the gate's scoring run here (a GPU when there is one and the setting allows).
        self.device = resolve_device(settings.device)
        self.store = blob_store_from(settings)
        self.cache = cache
        self.policy = GatePolicy(
            noninferiority_margin=settings.gate_noninferiority_margin,
            superiority_confidence=settings.gate_superiority_confidence,
            sensitivity_margin=settings.gate_sensitivity_margin,
            min_sequestered=settings.gate_min_sequestered,
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
        except JobLost:
            logger.warning("training job lost to another worker", extra={"job_id": str(job_id)})
        except JobCancelled:
            self._update(
                job_id,
                status=TrainingJobStatus.cancelled,
                finished_at=datetime.now(UTC),
                progress={"stage": "cancelled"},
            )
        except JobRefused as refused:
            self._update(
                job_id,
                status=TrainingJobStatus.failed,
                finished_at=datetime.now(UTC),
                error=str(refused),
                progress={"stage": "refused"},
            )
        except Exception as exc:
            logger.exception("training job failed", extra={"job_id": str(job_id)})
            self._update(
                job_id,
                status=TrainingJobStatus.failed,
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

    def _inputs(self, job_id: uuid.UUID) -> JobInputs:
        with transaction(self.session_factory) as session:
            job = session.get(TrainingJob, job_id)
            assert job is not None
            task = get_task(job.task)
            serving = ServingService(session)
            try:
                parent = serving.version_for(task.name, job.site).version
                default = serving.version_for(task.name, None).version
            except NoServingVersionError as exc:
                raise JobRefused(f"Task {task.name} has no active version to adapt.") from exc
            split = split_cases(verified_cases(session, task.name))
            training = [c for c in split.training if job.site is None or c.site == job.site]
            own_sites = {row.site for row in ServingRepository(session).site_versions(task.name)}
            default_sites = {_site_of(c) for c in split.sequestered} - own_sites - {job.site or ""}
            inputs = JobInputs(
                task=task,
                site=job.site,
                params=AdaptationParams(
                    **{k: v for k, v in job.parameters.items() if k in AdaptationParams.__dataclass_fields__}
                ),
                parent=Served(
                    parent.id, parent.store_path, serving.operating_point(task, job.site, parent).threshold
                ),
                root=_root(session, default),
                default=Served(
                    default.id, default.store_path, serving.operating_point(task, None, default).threshold
                ),
                site_thresholds={
                    site: serving.operating_point(task, site, default).threshold
                    for site in sorted(default_sites)
                },
                training=training,
                sequestered=split.sequestered,
                source=source_data(session, task, default.id, self.settings.datasets_dir),
                looks=TrainingJobRepository(session).looks(task.name, job.site) + 1,
            )
            job.training_set = {
                "site": job.site,
                "case_ids": [str(case.prediction_id) for case in training],
                "counts": counts_by_site_and_label(training),
                "sequestered_counts": counts_by_site_and_label(split.sequestered),
            }
            job.progress = {"stage": "loading images", "training_cases": len(training)}
        return inputs

    def _run(self, job_id: uuid.UUID, started: float) -> None:
        inputs = self._inputs(job_id)
        task, params = inputs.task, inputs.params
        items = _case_items(inputs.training, self.store)
        refused = refusal(items)
        if refused is not None:
            raise JobRefused(refused)
        parent = load_model(_stored(inputs.parent.store_path), device=self.device)
        size = parent.preprocessing.input_size
        plan = plan_adaptation(items, inputs.source.train if inputs.source else None, params)
        window = parent.preprocessing.modality_window
        data = load_plan(plan, lambda chosen: load_image_set(chosen, task.labels, size, window=window))

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
            data.site_train,
            data.validation,
            data.replay,
            params=params,
            on_epoch=on_epoch,
            should_stop=should_stop,
            device=self.device,
            mixed_precision=self.settings.mixed_precision,
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
            device=self.device,
        )
        version_threshold = threshold_on(candidate, data.validation, minimum_per_label=1)
        site_threshold = (
            threshold_on(candidate, data.site_validation, minimum_per_label=SITE_THRESHOLD_MIN_CASES)
            if inputs.site
            else None
        )
        decision = self._judge(inputs, parent, candidate, version_threshold, site_threshold)
        if self._cancel_requested(job_id):
            raise JobCancelled()
        card = adapted_version_card(
            CardInputs(
                parent=parent,
                parent_card=_stored(inputs.parent.store_path).card,
                task=task,
                site=inputs.site,
                params=params,
                plan=plan,
                counts=counts_by_site_and_label(inputs.training),
                result=result,
                version_threshold=version_threshold,
                validation_size=len(data.validation),
                decision=decision,
                job_id=job_id,
                started=started,
            )
        )
        # Fitted on what the candidate trained on, thresholded on what it validated on (candidate_density).
        density = candidate_density(
            candidate,
            concatenate(data.site_train, data.replay).images if data.replay else data.site_train.images,
            data.validation.images,
        )
        stored, store_path = ModelFolders(self.settings).write_trained_version(
            version=name,
            task=task.name,
            weights=weights,
            card=card,
            preprocessing=parent.preprocessing.to_dict(),
            extras={FEATURE_DENSITY_FILE: density.to_bytes()} if density is not None else None,
        )
        self._register(
            job_id, store_path, stored.weights_sha256, name, inputs, decision, site_threshold, started
        )

    # --- the gate's evidence ---------------------------------------------------------------------------

    def _judge(
        self,
        inputs: JobInputs,
        parent: LoadedModel,
        candidate: LoadedModel,
        version_threshold: ThresholdChoice | None,
        site_threshold: ThresholdChoice | None,
    ) -> GateDecision:
        task, size = inputs.task, parent.preprocessing.input_size
        default = (
            parent
            if inputs.default.version_id == parent.version
            else load_model(_stored(inputs.default.store_path), device=self.device)
        )
        own = version_threshold.threshold if version_threshold else None
        at_site = site_threshold.threshold if site_threshold else own
        images = load_image_set(
            _case_items(inputs.sequestered, self.store),
            task.labels,
            size,
            window=parent.preprocessing.modality_window,
        )
        sites = [_site_of(case) for case in inputs.sequestered]

        def subset(keep: Sequence[bool]) -> ImageSet:
            index = [i for i, kept in enumerate(keep) if kept]
            return ImageSet(images.images[index], images.labels[index], [images.items[i] for i in index])

        def pair(
            name: str,
            cases: ImageSet,
            active: LoadedModel,
            active_threshold: float | None,
            threshold: float | None,
        ) -> Comparison:
            return compare(
                name,
                scored_cases(active, cases),
                scored_cases(candidate, cases),
                task.labels,
                active_threshold=active_threshold,
                candidate_threshold=threshold,
            )

        if inputs.site is None:
            target = pair("sequestered: every site", images, default, inputs.default.threshold, own)
        else:
            mine = subset([site == inputs.site for site in sites])
            target = pair(f"sequestered: site {inputs.site}", mine, parent, inputs.parent.threshold, at_site)
        others = [
            pair(
                f"sequestered: site {site}",
                subset([s == site for s in sites]),
                default,
                threshold,
                own,
            )
            for site, threshold in inputs.site_thresholds.items()
        ]
        source_gate = None
        if inputs.source is not None and inputs.source.gate_test:
            gate_images = self.cache.get(
                (inputs.source.dataset, "gate", size), inputs.source.gate_test, task.labels
            )
            source_gate = pair("source gate half", gate_images, default, inputs.default.threshold, own)
            if inputs.root is not None:
                root = load_model(_stored(inputs.root.store_path), device=self.device)
                others.append(
                    pair("source gate half (base version)", gate_images, root, inputs.root.threshold, own)
                )
        return judge(
            task,
            site=inputs.site,
            target=target,
            others=others,
            source_gate=source_gate,
            policy=self.policy,
            looks=inputs.looks,
        )

    # --- the outcome ------------------------------------------------------------------------------------

    def _register(
        self,
        job_id: uuid.UUID,
        store_path: str,
        sha256: str,
        name: str,
        inputs: JobInputs,
        decision: GateDecision,
        site_threshold: ThresholdChoice | None,
        started: float,
    ) -> None:
        task = inputs.task
        with transaction(self.session_factory) as session:
            # Still ours? A worker stalled past the stale-heartbeat limit has had its job failed by
            # another; it must not promote afterwards. The conditional update also locks the row until
            # commit, so a recovery racing with this step waits and then finds the job finished.
            still_running = session.execute(
                update(TrainingJob)
                .where(TrainingJob.id == job_id, TrainingJob.status == TrainingJobStatus.running)
                .values(heartbeat_at=datetime.now(UTC))
            )
            if still_running.rowcount != 1:  # type: ignore[attr-defined]
                raise JobLost(f"training job {job_id} was failed by another worker while it ran")
            ModelVersionRepository(session).add(
                ModelVersion(
                    id=name,
                    task=task.name,
                    status=ModelVersionStatus.candidate,
                    parent_id=inputs.parent.version_id,
                    store_path=store_path,
                    weights_sha256=sha256,
                )
            )
            serving = ServingService(session)
            promotion = PromotionService(session)
            actor = SystemActor(f"training-job:{job_id}")
            summary = _gate_summary(decision)
            if decision.promoted:
                now_parent = serving.version_for(task.name, inputs.site).version.id
                now_default = serving.version_for(task.name, None).version.id
                if now_parent != inputs.parent.version_id or (
                    decision.promote_as_default and now_default != inputs.default.version_id
                ):
                    decision = replace(
                        decision,
                        promote_for_site=False,
                        promote_as_default=False,
                        reason="held back: the serving version changed while training",
                    )
            if decision.promote_as_default:
                promotion.activate(name, actor=actor, reason=decision.reason, metrics=summary)
            if decision.promote_for_site and inputs.site is not None:
                promotion.assign_site(name, inputs.site, actor=actor, reason=decision.reason, metrics=summary)
                if site_threshold is not None:
                    serving.record(
                        task,
                        inputs.site,
                        name,
                        site_threshold,
                        f"{site_threshold.positives + site_threshold.negatives} held-out verified cases of "
                        f"the site in training job {job_id}",
                        actor,
                    )
            job = session.get(TrainingJob, job_id)
            assert job is not None
            job.status = TrainingJobStatus.succeeded
            job.candidate_version_id = name
            job.decision = PromotionDecision.promoted if decision.promoted else PromotionDecision.held_back
            job.decision_reason = decision.reason
            job.evaluation = decision.to_json()
            job.finished_at = datetime.now(UTC)
            job.progress = {
                **job.progress,
                "stage": "done",
                "seconds": round(time.perf_counter() - started, 1),
            }


def _root(session: Session, version: ModelVersion) -> Served | None:
    ancestors = ModelVersionRepository(session).ancestors(version)
    return Served(ancestors[-1].id, ancestors[-1].store_path, None) if ancestors else None


def _stored(store_path: str) -> StoredVersion:
    return read_version(model_folder(store_path))


def _gate_summary(decision: GateDecision) -> dict[str, Any]:
    target = decision.target
    return {
        "site": decision.site,
        "looks": decision.looks,
        "target": {"active": target.active_auc, "candidate": target.candidate_auc} if target else None,
        "difference_ci95": list(target.difference_ci95) if target and target.difference_ci95 else None,
        "probability_better": target.probability_better if target else None,
    }
