"""The results outbox: which predictions' results are due for the PACS, and when they are queued.

A result is queued (one row per prediction and destination, `persistence/result_deliveries.py`):

- when a prediction is recorded, if it is final at once (the site's autonomy rule finalised it) or
  results are sent `immediately` (then marked preliminary);
- after each clinician's verdict, which makes it final: a row already sent is queued again, so the
  PACS gets the final (or corrected) result as new instances.

Nothing is queued without a destination (`IMAGING_AI_RESULTS_DESTINATION_URL`), for an image without
DICOM identity (a PNG or JPEG upload has no study to attach a result to), or while the answer is
hidden for a blind read (the PACS would show it to the reader; it is queued with the verdict).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imaging_ai.ml.tasks import get_task
from imaging_ai.persistence.feedback import FeedbackRepository
from imaging_ai.persistence.models import Image, Prediction, ResultDelivery
from imaging_ai.persistence.result_deliveries import ResultDeliveryRepository
from imaging_ai.services.cases.feedback import label_of_record
from imaging_ai.services.results.dicom_results import NotReferenceableError, ResultFacts, SourceInstance
from imaging_ai.settings import Settings
from imaging_ai.vocabulary import DeliveryStatus, PredictionStatus

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


@dataclass(frozen=True)
class DeliveryPolicy:
    destination: str | None
    send_when: str = "final"
    """`final` or `immediately` (`IMAGING_AI_RESULTS_SEND_WHEN`)."""
    max_attempts: int = 8
    backoff_base: timedelta = BACKOFF_BASE
    backoff_cap: timedelta = BACKOFF_CAP

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            destination=settings.results_destination_url,
            send_when=settings.results_send_when,
            max_attempts=settings.results_max_attempts,
        )

    def delay_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: base * 2^(attempts - 1), capped."""
        exponent = min(max(attempts - 1, 0), 30)
        return min(self.backoff_cap, self.backoff_base * (1 << exponent))


def is_final(prediction: Prediction) -> bool:
    """Final for the PACS: finalised by the autonomy rule, or given a clinician's verdict."""
    return prediction.status in (PredictionStatus.final, PredictionStatus.reviewed)


class ResultOutbox:
    """Queues results; the API's services call it (`prediction_recorded`, `verdict_recorded`), in the
    transaction that made the prediction or the verdict, so a result is queued exactly when it commits."""

    def __init__(self, session: Session, policy: DeliveryPolicy) -> None:
        self.session = session
        self.policy = policy
        self.deliveries = ResultDeliveryRepository(session)

    def prediction_recorded(self, prediction: Prediction) -> ResultDelivery | None:
        if is_final(prediction) or self.policy.send_when == "immediately":
            return self._enqueue(prediction)
        return None

    def verdict_recorded(self, prediction: Prediction) -> ResultDelivery | None:
        return self._enqueue(prediction)

    def _enqueue(self, prediction: Prediction) -> ResultDelivery | None:
        destination = self.policy.destination
        if not destination or prediction.awaits_blind_read:
            return None
        image = self.session.get(Image, prediction.image_id)
        if image is None or image.sop_instance_uid is None:
            return None
        now = datetime.now(UTC)
        existing = self.deliveries.find(prediction.id, destination)
        if existing is None:
            try:
                with self.session.begin_nested():
                    return self.deliveries.add(
                        ResultDelivery(
                            id=uuid.uuid4(),
                            prediction_id=prediction.id,
                            destination=destination,
                            status=DeliveryStatus.pending,
                            attempts=0,
                            next_attempt_at=now,
                            sent_sop_instance_uids=[],
                            created_at=now,
                        )
                    )
            except IntegrityError:  # queued concurrently: re-arm that row instead
                existing = self.deliveries.find(prediction.id, destination)
                if existing is None:
                    raise
        # Already queued: it sends the prediction's state at sending time. Already sent or failed: the
        # result changed (final now, or corrected), so it is due again, with a fresh count of attempts.
        if existing.status != DeliveryStatus.pending:
            self.deliveries.rearm(existing, now)
        else:
            existing.next_attempt_at = now
            self.session.flush()
        return existing


def result_facts(session: Session, prediction: Prediction) -> ResultFacts:
    """What the result says now: the prediction, its source image's identity, and its verdicts."""
    image = session.get(Image, prediction.image_id)
    if (
        image is None
        or image.study_instance_uid is None
        or image.series_instance_uid is None
        or image.sop_instance_uid is None
        or image.sop_class_uid is None
    ):
        raise NotReferenceableError("The source image has no DICOM identity.")
    history = FeedbackRepository(session).history(prediction.id)
    latest = history[-1] if history else None
    final = is_final(prediction)
    if latest is not None:
        finalised_by: str | None = f"clinician:{latest.reviewer_id}" if latest.reviewer_id else "clinician"
    else:
        finalised_by = prediction.finalized_by if final else None
    return ResultFacts(
        prediction_id=prediction.id,
        task=prediction.task,
        labels=tuple(get_task(prediction.task).labels),
        probabilities={label: float(p) for label, p in prediction.probabilities.items()},
        predicted_label=prediction.predicted_label,
        decision_threshold=prediction.decision_threshold,
        operating_point=prediction.operating_point,
        model_version=prediction.model_version_id,
        site=prediction.site,
        final=final,
        finalised_by=finalised_by,
        verdict=latest.verdict if latest is not None else None,
        label_of_record=label_of_record(prediction, latest),
        source=SourceInstance(
            study_instance_uid=image.study_instance_uid,
            series_instance_uid=image.series_instance_uid,
            sop_instance_uid=image.sop_instance_uid,
            sop_class_uid=image.sop_class_uid,
            modality=image.modality,
        ),
        verdicts=len(history),
    )
