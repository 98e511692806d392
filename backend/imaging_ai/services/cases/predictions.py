"""Predictions: the version serving the site answers for an image at the site's operating point, and
the answer is recorded with the version, the routing that chose it and the threshold it was served at."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.imaging import DecodedImage
from imaging_ai.imaging.decode import decode_slot
from imaging_ai.ml.feature_density import FeatureDensity
from imaging_ai.ml.loading import LoadedModel
from imaging_ai.ml.operating_point import served_label_index
from imaging_ai.ml.preprocessing import tensor_from_decoded
from imaging_ai.ml.runtime import ModelRuntime
from imaging_ai.ml.tasks import TaskSpec, get_task, require_label
from imaging_ai.persistence.learning_scores import LearningScoreRepository, encode_features
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import Image, LearningScore, Prediction
from imaging_ai.persistence.predictions import PredictionFilter, PredictionRepository
from imaging_ai.persistence.unit_of_work import end_transaction
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.cases.heatmaps import HeatmapCache
from imaging_ai.services.cases.images import IngestionService, PreparedUpload, pseudonymise
from imaging_ai.services.models.catalog import UnknownModelVersionError
from imaging_ai.services.models.serving import ServedOperatingPoint, ServedVersion, ServingService
from imaging_ai.services.trust.autonomy import AutonomyService
from imaging_ai.storage.object_store import ObjectStore
from imaging_ai.vocabulary import PredictionStatus, Routing, UserKind

if TYPE_CHECKING:  # results back to the PACS (issue #16); imported for the annotation only
    from imaging_ai.services.results.outbox import ResultOutbox


class ImageRequiredError(DomainError):
    status_code = 422
    code = "image_required"


class AnswerHiddenError(DomainError):
    status_code = 409
    code = "answer_hidden"


class ModalityMismatchError(DomainError):
    status_code = 422
    code = "modality_mismatch"


def normalised_entropy(probabilities: Sequence[float]) -> float:
    """Entropy of the calibrated distribution divided by its maximum: 0 certain, 1 uninformative."""
    entropy = -sum(p * math.log(p) for p in probabilities if p > 0)
    return entropy / math.log(len(probabilities)) if len(probabilities) > 1 else 0.0


def _guard(density: FeatureDensity | None, distance: float | None, output: float) -> dict[str, Any]:
    """The out-of-distribution guard and the drift test's inputs; all null for a version without a
    feature density (then nothing it answers is finalised automatically)."""
    if density is None or distance is None:
        return {"ood_distance": None, "out_of_distribution": None, "feature_z": None, "output_z": None}
    return {
        "ood_distance": round(distance, 4),
        "out_of_distribution": density.is_out_of_distribution(distance),
        "feature_z": round(density.feature_z(distance), 4),
        "output_z": round(density.output_z(output), 4),
    }


def answer_visible(prediction: Prediction, viewer: Principal) -> bool:
    """Clinicians never see a blind read's answer before their verdict; a hospital system (a service
    account, which reads nothing) gets it only once it is final."""
    if not prediction.awaits_blind_read:
        return True
    return viewer.kind == UserKind.service and prediction.status == PredictionStatus.final


def _check_modality(task: TaskSpec, modality: str | None) -> None:
    # PNG/JPEG carry no modality and are trusted to the uploader; DICOM must match the task.
    if modality is not None and modality not in task.accepted_modalities:
        raise ModalityMismatchError(
            f"Task {task.name} takes {', '.join(sorted(task.accepted_modalities))} images; "
            f"this image is {modality}.",
            details={"task": task.name, "image_modality": modality},
        )


@dataclass(frozen=True)
class _Plan:
    task: TaskSpec
    site: str | None
    served: ServedVersion
    point: ServedOperatingPoint


@dataclass(frozen=True)
class _Answer:
    model: LoadedModel
    probabilities: torch.Tensor
    distance: float | None
    features: torch.Tensor
    """Penultimate features: with the probabilities, the case's learning score."""
    inference_ms: float


@dataclass(frozen=True)
class PredictionRequest:
    task: str
    site: str | None = None
    accession_number: str | None = None
    external_id: str | None = None


class PredictionService:
    def __init__(
        self,
        session: Session,
        runtime: ModelRuntime,
        ingestion: IngestionService,
        heatmap_dir: Path | ObjectStore,
        autonomy: AutonomyService,
        serving: ServingService,
        results: ResultOutbox | None = None,
    ) -> None:
        self.autonomy = autonomy
        self.serving = serving
        self.results = results
        """Queues the result for the PACS when it is due (issue #16); None: results are not sent."""
        self.session = session
        self.runtime = runtime
        self.ingestion = ingestion
        self.predictions = PredictionRepository(session)
        self.versions = ModelVersionRepository(session)
        self.heatmap_dir = heatmap_dir

    def predict_upload(self, upload: PreparedUpload, request: PredictionRequest) -> Prediction:
        """Predicts for an upload decoded under the caller's decode slot: the model runs with no
        transaction open, then the image (unless already stored) and the prediction are written in one
        short transaction, so a failure leaves neither."""
        assert upload.decoded is not None
        task = get_task(request.task)
        _check_modality(task, upload.metadata.modality)
        stored = self.ingestion.stored_copy(upload)
        plan = self._plan(task, request.site or (stored.site if stored else upload.site))
        answer = self._answer(plan, upload.decoded)
        image = self.ingestion.record(upload).image
        return self._record(image, plan, answer, request)

    def predict(self, image: Image, request: PredictionRequest) -> Prediction:
        """Predicts for a stored image, decoded (under a decode slot) with no transaction open."""
        task = get_task(request.task)
        _check_modality(task, image.modality)
        plan = self._plan(task, request.site or image.site)
        with decode_slot():
            tensor_source = self.ingestion.load(image)
            answer = self._answer(plan, tensor_source)
        return self._record(image, plan, answer, request)

    def _plan(self, task: TaskSpec, site: str | None) -> _Plan:
        """Which version answers and at which threshold; then the transaction ends, before weights are
        loaded and the model runs (SQLite's write lock is not held, and concurrent predictions can be
        micro-batched together)."""
        served = self.serving.version_for(task.name, site)
        point = self.serving.operating_point(task, site, served.version)
        end_transaction(self.session)
        return _Plan(task, site, served, point)

    def _answer(self, plan: _Plan, decoded: DecodedImage) -> _Answer:
        route = f"{plan.task.name}@{plan.site or ''}"
        model = self.runtime.serving(route, plan.served.version.id, plan.served.version.store_path)
        started = time.perf_counter()
        tensor = tensor_from_decoded(decoded, model.preprocessing)
        probabilities, distance, features = self.runtime.predict(model, tensor)
        return _Answer(model, probabilities, distance, features, (time.perf_counter() - started) * 1000)

    def _record(self, image: Image, plan: _Plan, answer: _Answer, request: PredictionRequest) -> Prediction:
        task, site, model = plan.task, plan.site, answer.model
        values = [float(p) for p in answer.probabilities]
        version, point = plan.served.version, plan.point
        if model.version != version.id:
            # The runtime kept serving an earlier version (new weights refused): its own threshold.
            fallback = self.versions.get(model.version)
            assert fallback is not None
            version = fallback
            point = self.serving.operating_point(task, site, version)
        positive = task.label_index(task.positive_label) if task.positive_label else None
        best = int(served_label_index(answer.probabilities.numpy()[None, :], positive, point.threshold)[0])
        served_output = values[positive] if positive is not None else max(values)
        guard = _guard(model.density, answer.distance, served_output)
        prediction = Prediction(
            id=uuid.uuid4(),
            image_id=image.id,
            task=task.name,
            model_version_id=model.version,
            predicted_label=task.labels[best],
            probabilities={label: round(p, 6) for label, p in zip(task.labels, values, strict=True)},
            confidence=min(1.0, max(0.0, values[best])),
            uncertainty=round(normalised_entropy(values), 6),
            status=PredictionStatus.pending_review,
            site=site,
            routing=plan.served.routing if version is plan.served.version else Routing.default,
            decision_threshold=point.threshold,
            operating_point=point.source,
            # Accession numbers and the caller's ids point at the patient's study in the hospital's
            # systems: kept only as keyed hashes, like patient ids.
            accession_number=self._pseudonym(request.accession_number),
            external_id=self._pseudonym(request.external_id),
            inference_ms=round(answer.inference_ms, 2),
            **guard,
        )
        self.predictions.add(prediction)
        self.autonomy.finalise(prediction)
        if self.results is not None:  # results back to the PACS: final by the rule, or sent at once
            self.results.prediction_recorded(prediction)
        if prediction.status == PredictionStatus.pending_review:
            LearningScoreRepository(self.session).add(
                LearningScore(
                    prediction_id=prediction.id,
                    model_version_id=model.version,
                    probabilities=prediction.probabilities,
                    features=encode_features(answer.features),
                )
            )
        return prediction

    def get(self, prediction_id: uuid.UUID) -> Prediction:
        prediction = self.predictions.get(prediction_id)
        if prediction is None:
            raise NotFoundError("No prediction with this id.", details={"prediction_id": str(prediction_id)})
        return prediction

    def page(self, filters: PredictionFilter, *, limit: int, offset: int) -> tuple[Sequence[Prediction], int]:
        if filters.task is not None:
            get_task(filters.task)
        # The stored values are pseudonyms: a filter by the hospital's clear value is hashed first.
        filters = replace(
            filters,
            accession_number=self._pseudonym(filters.accession_number),
            external_id=self._pseudonym(filters.external_id),
        )
        return self.predictions.page(filters, limit=limit, offset=offset)

    def _pseudonym(self, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return pseudonymise(value, self.ingestion.pseudonym_key)

    def heatmap(self, prediction: Prediction, label: str | None, viewer: Principal) -> bytes:
        """Grad-CAM overlay from the version that made the prediction; cached after the first request.
        Refused while the viewer may not see the answer (a blind read not read yet)."""
        if not answer_visible(prediction, viewer):
            raise AnswerHiddenError(
                "This case is read blind: its heatmap is shown once a verdict is given.",
                details={"prediction_id": str(prediction.id)},
            )
        task = get_task(prediction.task)
        label = label or prediction.predicted_label
        require_label(task, label)
        index = task.label_index(label)
        heatmaps = HeatmapCache(self.runtime, self.heatmap_dir)
        cached = heatmaps.cached(prediction.id, index)
        if cached is not None:
            return cached
        version = self.versions.get(prediction.model_version_id)
        if version is None:
            raise UnknownModelVersionError("The version that made this prediction is not registered.")
        image = self.ingestion.get(prediction.image_id)
        end_transaction(self.session)  # everything is read; drawing takes seconds
        return heatmaps.draw(
            prediction.id,
            index,
            version_id=version.id,
            store_path=version.store_path,
            load=lambda: self.ingestion.load(image),
        )
