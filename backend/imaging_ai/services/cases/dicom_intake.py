"""DICOM instances arriving from hospital systems (C-STORE, STOW-RS, a pull from a PACS): each goes
through the same ingestion and prediction as an upload, in its own transaction, and comes back as a
per-instance outcome, so one bad object in a study is refused with a reason while the rest are kept.

The task comes from the route the instance arrived by (the calling AE title's, or the request's);
without one, from the instance's modality and body part, and an instance no task fits is refused.
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pydicom
from pydicom.errors import InvalidDicomError
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.errors import DomainError
from imaging_ai.ml.tasks import TASKS
from imaging_ai.persistence.predictions import PredictionRepository
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.cases.images import IngestionService
from imaging_ai.services.cases.predictions import PredictionRequest, PredictionService

logger = logging.getLogger(__name__)

CaseServices = Callable[[Session], tuple[IngestionService, PredictionService]]
"""Builds the ingestion and prediction services on one transaction's session."""

# (modality, body parts) -> task, for instances whose route names no task. An absent body part is
# taken as the task's usual one only where the modality leaves no doubt (CT is also heads and bellies).
_TASK_BY_MODALITY: tuple[tuple[frozenset[str], frozenset[str], bool, str], ...] = (
    (frozenset({"CR", "DX"}), frozenset({"CHEST", "THORAX", "LUNG"}), True, "chest-xray-pneumonia"),
    (frozenset({"CT"}), frozenset({"CHEST", "THORAX", "LUNG"}), False, "chest-ct-covid"),
    (frozenset({"MR"}), frozenset({"BRAIN", "HEAD"}), True, "brain-mri-tumor"),
)


@dataclass(frozen=True)
class IntakeRoute:
    """Where an instance belongs: its site, and its task when the sender fixes one."""

    site: str | None
    task: str | None = None


@dataclass(frozen=True)
class InstanceOutcome:
    """What became of one received instance. The SOP UIDs are the sender's own (for its reply), never
    stored or logged; `error_code` is set when the instance was refused, and nothing of it was kept."""

    sop_class_uid: str | None
    sop_instance_uid: str | None
    image_id: uuid.UUID | None = None
    prediction_id: uuid.UUID | None = None
    task: str | None = None
    created: bool = False
    """False when the same bytes had been received before (the earlier answer is returned)."""
    error_code: str | None = None
    error_message: str | None = None
    error_status: int | None = None

    @property
    def accepted(self) -> bool:
        return self.error_code is None


class NoTaskForInstanceError(DomainError):
    status_code = 422
    code = "no_task_for_instance"


class NotDicomError(DomainError):
    status_code = 415
    code = "not_dicom"


def task_for(modality: str | None, body_part: str | None) -> str | None:
    """The task an instance is for, from its modality and body part; None when none fits."""
    part = (body_part or "").strip().upper()
    for modalities, parts, absent_ok, task in _TASK_BY_MODALITY:
        if modality in modalities and task in TASKS and (part in parts or (absent_ok and not part)):
            return task
    return None


class DicomIntake:
    def __init__(self, session_factory: sessionmaker[Session], services: CaseServices) -> None:
        self.session_factory = session_factory
        self.services = services

    def receive(self, data: bytes, route: IntakeRoute) -> InstanceOutcome:
        """Ingest and predict one instance; every failure becomes the outcome's error, never an exception
        (a failure on our side is `internal_error`, status 500: a retry may cure it)."""
        sender = sender_identity(data)
        sop_class, sop_instance = sender.sop_class_uid, sender.sop_instance_uid
        try:
            with transaction(self.session_factory) as session:
                return self._receive(session, data, route, sop_class, sop_instance)
        except DomainError as exc:
            logger.info("dicom instance refused", extra={"code": exc.code})
            return InstanceOutcome(
                sop_class_uid=sop_class,
                sop_instance_uid=sop_instance,
                error_code=exc.code,
                error_message=exc.message,
                error_status=exc.status_code,
            )
        except Exception as exc:
            # The type only: a message or traceback could quote the dataset.
            logger.error(
                "dicom instance failed", extra={"code": "internal_error", "error_type": type(exc).__name__}
            )
            return InstanceOutcome(
                sop_class_uid=sop_class,
                sop_instance_uid=sop_instance,
                error_code="internal_error",
                error_message="The instance could not be processed.",
                error_status=500,
            )

    def _receive(
        self,
        session: Session,
        data: bytes,
        route: IntakeRoute,
        sop_class: str | None,
        sop_instance: str | None,
    ) -> InstanceOutcome:
        if sop_instance is None:
            raise NotDicomError("The object is not a readable DICOM instance.")
        ingestion, predictions = self.services(session)
        with ingestion.prepare_decoded(data, site=route.site) as upload:
            meta = upload.metadata
            task = route.task or task_for(meta.modality, meta.body_part)
            if task is None:
                raise NoTaskForInstanceError(
                    "No task takes this instance: send it with a task, or send a modality and body part "
                    "a task is for.",
                    details={"modality": meta.modality, "body_part": meta.body_part},
                )
            stored = ingestion.stored_copy(upload)
            earlier = (
                PredictionRepository(session).first_for_image(stored.id, task) if stored is not None else None
            )
            if stored is not None and earlier is not None:
                # The same instance sent again (a retried association, a re-sent study): the earlier
                # answer stands; a second prediction would put the case twice on the worklist.
                return InstanceOutcome(sop_class, sop_instance, stored.id, earlier.id, task, created=False)
            prediction = predictions.predict_upload(upload, PredictionRequest(task=task, site=route.site))
        return InstanceOutcome(
            sop_class, sop_instance, prediction.image_id, prediction.id, task, created=True
        )


@dataclass(frozen=True)
class SenderIdentity:
    """The UIDs an instance carries as sent (for the reply to its sender; never stored or logged)."""

    sop_class_uid: str | None
    sop_instance_uid: str | None
    study_instance_uid: str | None


def sender_identity(data: bytes) -> SenderIdentity:
    """Read leniently, headers only: a file cut short in its pixel data still names itself, so its
    sender can tell which instance was refused. All None when the bytes are not DICOM."""
    try:
        with warnings.catch_warnings():  # a truncated file is expected here; its refusal says so
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except (InvalidDicomError, ValueError, EOFError, OSError, KeyError, TypeError, AttributeError):
        return SenderIdentity(None, None, None)
    meta = getattr(dataset, "file_meta", None)

    def text(name: str, meta_name: str | None = None) -> str | None:
        value = dataset.get(name)
        if not value and meta is not None and meta_name:
            value = meta.get(meta_name)
        return str(value) if value else None

    try:
        return SenderIdentity(
            text("SOPClassUID", "MediaStorageSOPClassUID"),
            text("SOPInstanceUID", "MediaStorageSOPInstanceUID"),
            text("StudyInstanceUID"),
        )
    except Exception:  # a header that parses but whose values do not
        return SenderIdentity(None, None, None)
