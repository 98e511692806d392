"""Clinicians' verdicts on predictions: validated, append-only, serialised per prediction.

The AI's answer is never changed. Each verdict is a new row with the next sequence number of its
prediction; the latest one is the label of record. A unique (prediction, sequence) index makes two
concurrent verdicts impossible to interleave silently: the loser retries with the next number, so
none is lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.ml.tasks import get_task, require_label
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.feedback import FeedbackRepository
from imaging_ai.persistence.models import Feedback, Prediction
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.models.serving import ServingService
from imaging_ai.services.training.jobs import TrainingJobService
from imaging_ai.services.trust.autonomy import AutonomyService
from imaging_ai.vocabulary import GivenVerdict, PredictionStatus, Verdict

if TYPE_CHECKING:  # results back to the PACS (issue #16); imported for the annotation only
    from imaging_ai.services.results.outbox import ResultOutbox

MAX_ATTEMPTS = 10


class InvalidVerdictError(DomainError):
    status_code = 422
    code = "invalid_verdict"


class BlindReadError(DomainError):
    status_code = 422
    code = "blind_read_needs_label"


@dataclass(frozen=True)
class VerdictRequest:
    verdict: GivenVerdict
    label: str | None = None
    notes: str | None = None


def label_of_record(prediction: Prediction, latest: Feedback | None) -> str | None:
    """The case's label for training and metrics: the latest verdict's; none if unreadable or unreviewed."""
    if latest is None or latest.verdict == Verdict.unreadable:
        return None
    if latest.verdict == Verdict.agree:
        return prediction.predicted_label
    return latest.label


class FeedbackService:
    """Records verdicts; after each, the site's autonomy is re-checked (it may fall back), the site's
    operating point refreshed, and training started when enough new verdicts have come."""

    def __init__(
        self,
        session: Session,
        *,
        autonomy: AutonomyService,
        serving: ServingService,
        training: TrainingJobService,
        results: ResultOutbox | None = None,
    ) -> None:
        self.session = session
        self.results = results
        """Queues the (now final) result for the PACS after each verdict (issue #16); None: not sent."""
        self.feedback = FeedbackRepository(session)
        self.autonomy = autonomy
        self.serving = serving
        self.training = training

    def record(self, prediction_id: uuid.UUID, request: VerdictRequest, *, reviewer: Principal) -> Feedback:
        """Records a verdict under the authenticated reviewer's identity, with an audit event."""
        prediction = self._prediction(prediction_id)
        self._validate(prediction, request)
        blind = prediction.awaits_blind_read
        label = request.label
        if request.verdict == GivenVerdict.read:
            verdict = Verdict.agree if label == prediction.predicted_label else Verdict.disagree
        else:
            verdict = Verdict(request.verdict)
        for _attempt in range(MAX_ATTEMPTS):
            try:
                with self.session.begin_nested():
                    self.feedback.lock_prediction(prediction_id)
                    entry = self.feedback.add(
                        Feedback(
                            id=uuid.uuid4(),
                            prediction_id=prediction_id,
                            sequence=self.feedback.next_sequence(prediction_id),
                            verdict=verdict,
                            label=label if verdict == Verdict.disagree else None,
                            reviewer=reviewer.username,
                            reviewer_id=reviewer.user_id,
                            notes=request.notes,
                            blind=blind,
                        )
                    )
                    prediction.status = PredictionStatus.reviewed
            except IntegrityError:
                continue  # a concurrent verdict took this sequence number; take the next one
            record_audit_event(
                self.session,
                reviewer,
                "feedback.verdict",
                target_type="prediction",
                target_id=str(prediction_id),
                # The label and the verdict only: notes are free text and may hold patient data.
                details={
                    "verdict": entry.verdict,
                    "label": entry.label,
                    "sequence": entry.sequence,
                    "blind": entry.blind,
                },
            )
            self._after_verdict(prediction)
            return entry
        raise DomainError(
            "The prediction is being reviewed concurrently; try again.", code="conflict", status_code=409
        )

    def _after_verdict(self, prediction: Prediction) -> None:
        self.autonomy.check_after_verdict(prediction.task, prediction.site)
        self.serving.refresh_after_verdict(get_task(prediction.task), prediction.site)
        self.training.maybe_start_automatically(prediction.task, prediction.site)
        if self.results is not None:  # results back to the PACS: a verdict makes the result final
            self.results.verdict_recorded(prediction)

    def history(self, prediction_id: uuid.UUID) -> tuple[Prediction, Sequence[Feedback]]:
        prediction = self._prediction(prediction_id)
        return prediction, self.feedback.history(prediction_id)

    def _prediction(self, prediction_id: uuid.UUID) -> Prediction:
        prediction = self.session.get(Prediction, prediction_id)
        if prediction is None:
            raise NotFoundError("No prediction with this id.", details={"prediction_id": str(prediction_id)})
        return prediction

    @staticmethod
    def _validate(prediction: Prediction, request: VerdictRequest) -> None:
        task = get_task(prediction.task)
        if prediction.awaits_blind_read and request.verdict in (GivenVerdict.agree, GivenVerdict.disagree):
            raise BlindReadError(
                "This case is read blind: send `read` with the label you see (or `unreadable`); the AI's "
                "answer is shown once your verdict is in.",
                details={"labels": list(task.labels)},
            )
        if request.verdict == GivenVerdict.read:
            if request.label is None:
                raise InvalidVerdictError(
                    "A read needs the `label` you see.", details={"labels": list(task.labels)}
                )
            require_label(task, request.label)
        elif request.verdict == GivenVerdict.disagree:
            if request.label is None:
                raise InvalidVerdictError(
                    "A disagreement needs the correct `label`.", details={"labels": list(task.labels)}
                )
            require_label(task, request.label)
            if request.label == prediction.predicted_label:
                raise InvalidVerdictError(
                    "The correct label given is the AI's own answer; send `agree` instead.",
                    details={"predicted_label": prediction.predicted_label},
                )
        elif request.verdict == GivenVerdict.agree:
            if request.label is not None and request.label != prediction.predicted_label:
                raise InvalidVerdictError(
                    "`agree` confirms the AI's label; to give another label send `disagree`.",
                    details={"predicted_label": prediction.predicted_label},
                )
        elif request.label is not None:
            raise InvalidVerdictError("An `unreadable` verdict takes no label.")
