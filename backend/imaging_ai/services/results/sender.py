"""Sending queued results: the worker claims due deliveries, builds the objects and stores them by
STOW-RS; a failure is retried after an exponential backoff (30 s, 1, 2, 4 ... minutes, at most an hour)
until `results_max_attempts`, then the delivery is `failed` (an administrator may retry it). Every
attempt's outcome is audited (`result.delivery`), without patient data."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from pydicom.dataset import Dataset
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.models import Prediction
from imaging_ai.persistence.result_deliveries import ResultDeliveryRepository
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.accounts.identity import SystemActor
from imaging_ai.services.results.dicom_results import NotReferenceableError, build_result_objects
from imaging_ai.services.results.outbox import DeliveryPolicy, result_facts
from imaging_ai.services.results.stow import DeliveryError, redacted, store_instances
from imaging_ai.vocabulary import DeliveryStatus

logger = logging.getLogger(__name__)

SENDER = SystemActor("results-sender")
CLAIM_LEASE = timedelta(minutes=5)

HeatmapSource = Callable[[uuid.UUID], bytes]
Store = Callable[[str, Sequence[Dataset]], list[str]]


class ResultSender:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        policy: DeliveryPolicy,
        heatmaps: HeatmapSource,
        worker_id: str,
        *,
        store: Store = store_instances,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session_factory = session_factory
        self.policy = policy
        self.heatmaps = heatmaps
        self.worker_id = worker_id
        self.store = store
        self.clock = clock

    def send_due(self, limit: int = 16) -> int:
        """Claims and sends up to `limit` due deliveries; returns how many were attempted."""
        now = self.clock()
        with transaction(self.session_factory) as session:
            claimed = ResultDeliveryRepository(session).claim_due(
                self.worker_id, now, now + CLAIM_LEASE, limit
            )
        for delivery_id in claimed:
            self._send(delivery_id)
        return len(claimed)

    def _send(self, delivery_id: uuid.UUID) -> None:
        sent: list[str] = []
        error: str | None = None
        permanent = False
        final = False
        revision: str | None = None
        try:
            with transaction(self.session_factory) as session:
                delivery = ResultDeliveryRepository(session).get(delivery_id)
                assert delivery is not None
                destination, prediction_id = delivery.destination, delivery.prediction_id
                prediction = session.get(Prediction, prediction_id)
                assert prediction is not None
                facts = result_facts(session, prediction)
                final, revision = facts.final, facts.revision
            objects = build_result_objects(facts, self.heatmaps(prediction_id))
            sent = self.store(destination, objects.datasets)
        except DeliveryError as exc:
            error = str(exc)
        except NotReferenceableError as exc:
            error, permanent = str(exc), True
        except Exception as exc:  # a bug or a missing file: retried, and named without its message
            logger.exception("result delivery failed", extra={"delivery_id": str(delivery_id)})
            error = f"internal error ({type(exc).__name__})"
        self._record(delivery_id, sent, error, permanent=permanent, final=final, revision=revision)

    def _record(
        self,
        delivery_id: uuid.UUID,
        sent: list[str],
        error: str | None,
        *,
        permanent: bool,
        final: bool,
        revision: str | None,
    ) -> None:
        now = self.clock()
        with transaction(self.session_factory) as session:
            repository = ResultDeliveryRepository(session)
            delivery = repository.get(delivery_id)
            assert delivery is not None
            attempts = delivery.attempts + 1
            if error is None:
                outcome = DeliveryStatus.sent
                values: dict[str, object] = {
                    "status": DeliveryStatus.sent,
                    "sent_at": now,
                    "last_error": None,
                    "sent_final": final,
                    "sent_sop_instance_uids": [*delivery.sent_sop_instance_uids, *sent],
                }
                prediction = session.get(Prediction, delivery.prediction_id)
                if prediction is not None and result_facts(session, prediction).revision != revision:
                    # A verdict came while this was being sent: the new result is due at once.
                    values.update(status=DeliveryStatus.pending, next_attempt_at=now, sent_at=now)
                    attempts = 0
            elif permanent or attempts >= self.policy.max_attempts:
                outcome = DeliveryStatus.failed
                values = {"status": DeliveryStatus.failed, "last_error": error}
            else:
                outcome = DeliveryStatus.pending
                values = {"last_error": error, "next_attempt_at": now + self.policy.delay_after(attempts)}
            if not repository.update_claimed(delivery_id, self.worker_id, attempts=attempts, **values):
                return  # the claim expired and another worker took the row: its outcome counts
            record_audit_event(
                session,
                SENDER,
                "result.delivery",
                target_type="result_delivery",
                target_id=str(delivery_id),
                details={
                    "prediction_id": str(delivery.prediction_id),
                    "destination": redacted(delivery.destination),
                    "attempt": attempts,
                    "outcome": "retry" if outcome == DeliveryStatus.pending else outcome.value,
                    "final": final,
                    "error": error,
                    "sop_instance_uids": sent,
                },
            )
        log = logger.info if error is None else logger.warning
        log(
            "result delivery attempt",
            extra={"delivery_id": str(delivery_id), "attempt": attempts, "outcome": str(outcome)},
        )
