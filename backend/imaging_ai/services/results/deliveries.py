"""Reading the results outbox, and retrying a failed delivery (administrators)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.models import Prediction, ResultDelivery
from imaging_ai.persistence.result_deliveries import ResultDeliveryRepository
from imaging_ai.services.accounts.identity import Actor
from imaging_ai.services.results.stow import redacted
from imaging_ai.vocabulary import DeliveryStatus


class DeliveryNotFailedError(DomainError):
    status_code = 409
    code = "delivery_not_failed"


class DeliveryService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.deliveries = ResultDeliveryRepository(session)

    def page(
        self,
        *,
        prediction_id: uuid.UUID | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[Sequence[ResultDelivery], int]:
        return self.deliveries.page(prediction_id=prediction_id, status=status, limit=limit, offset=offset)

    def for_prediction(self, prediction_id: uuid.UUID) -> Sequence[ResultDelivery]:
        if self.session.get(Prediction, prediction_id) is None:
            raise NotFoundError("No prediction with this id.", details={"prediction_id": str(prediction_id)})
        rows, _total = self.deliveries.page(prediction_id=prediction_id, status=None, limit=100, offset=0)
        return rows

    def get(self, delivery_id: uuid.UUID) -> ResultDelivery:
        delivery = self.deliveries.get(delivery_id)
        if delivery is None:
            raise NotFoundError("No result delivery with this id.", details={"delivery_id": str(delivery_id)})
        return delivery

    def retry(self, delivery_id: uuid.UUID, *, actor: Actor) -> ResultDelivery:
        """A failed delivery is due again at once, with a fresh count of attempts."""
        delivery = self.get(delivery_id)
        if delivery.status != DeliveryStatus.failed:
            raise DeliveryNotFailedError(
                "Only a failed delivery can be retried; a pending one is retried by itself.",
                details={"delivery_id": str(delivery_id), "status": delivery.status},
            )
        self.deliveries.rearm(delivery, datetime.now(UTC))
        record_audit_event(
            self.session,
            actor,
            "result.delivery_retry",
            target_type="result_delivery",
            target_id=str(delivery_id),
            details={
                "prediction_id": str(delivery.prediction_id),
                "destination": redacted(delivery.destination),
            },
        )
        return delivery
