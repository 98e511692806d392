"""When a result is queued for the PACS: once final (a verdict or the autonomy rule) by default, at once
when configured, never without a destination, a DICOM identity, or while a blind read hides it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.persistence.models import Prediction, ResultDelivery
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.results.outbox import DeliveryPolicy, ResultOutbox
from tests import samples
from tests.results.conftest import CHEST, add_case, agree, factory_of, predict_dicom

DESTINATION = "http://pacs.invalid:8042/dicom-web"


def _deliveries(factory: sessionmaker[Session], prediction_id: str | uuid.UUID) -> list[ResultDelivery]:
    with factory() as session:
        return list(
            session.scalars(
                select(ResultDelivery).where(ResultDelivery.prediction_id == uuid.UUID(str(prediction_id)))
            ).all()
        )


def test_by_default_a_result_is_queued_by_the_verdict_and_not_before(
    results_client: Callable[..., TestClient],
) -> None:
    client = results_client(results_destination_url=DESTINATION)
    prediction_id = predict_dicom(client)
    assert _deliveries(factory_of(client), prediction_id) == []  # pending review: not final yet

    agree(client, prediction_id)
    [delivery] = _deliveries(factory_of(client), prediction_id)
    assert (delivery.status, delivery.attempts, delivery.destination) == ("pending", 0, DESTINATION)


def test_immediately_queues_at_once_and_a_verdict_on_a_sent_result_queues_it_again(
    results_client: Callable[..., TestClient],
) -> None:
    client = results_client(results_destination_url=DESTINATION, results_send_when="immediately")
    prediction_id = predict_dicom(client)
    [delivery] = _deliveries(factory_of(client), prediction_id)
    assert delivery.status == "pending"

    with transaction(factory_of(client)) as session:  # as if the preliminary result had been sent
        row = session.get(ResultDelivery, delivery.id)
        assert row is not None
        row.status, row.attempts, row.sent_final = "sent", 1, False
    agree(client, prediction_id)
    [again] = _deliveries(factory_of(client), prediction_id)
    assert (again.id, again.status, again.attempts) == (delivery.id, "pending", 0)


def test_nothing_is_queued_without_a_destination_or_for_an_image_without_dicom_identity(
    results_client: Callable[..., TestClient],
) -> None:
    client = results_client(results_destination_url=None, results_send_when="immediately")
    prediction_id = predict_dicom(client)
    agree(client, prediction_id)
    assert _deliveries(factory_of(client), prediction_id) == []

    client = results_client(results_destination_url=DESTINATION, results_send_when="immediately")
    png = samples.nih_png()
    response = client.post(
        "/api/v1/predictions", files={"file": (png.name, png.read_bytes())}, data={"task": CHEST}
    )
    assert response.status_code == 201, response.text
    agree(client, response.json()["id"])
    assert _deliveries(factory_of(client), response.json()["id"]) == []


def test_an_answer_final_by_the_autonomy_rule_is_queued_when_recorded(factory: sessionmaker[Session]) -> None:
    policy = DeliveryPolicy(destination=DESTINATION, send_when="final")
    waiting = add_case(factory)
    final = add_case(factory, status="final", finalized_by="rule:autonomous")
    with transaction(factory) as session:
        outbox = ResultOutbox(session, policy)
        for prediction_id in (waiting, final):
            prediction = session.get(Prediction, prediction_id)
            assert prediction is not None
            outbox.prediction_recorded(prediction)
    assert _deliveries(factory, waiting) == []
    assert [d.status for d in _deliveries(factory, final)] == ["pending"]


def test_a_blind_read_is_not_sent_before_it_is_read(factory: sessionmaker[Session]) -> None:
    """The PACS would show the answer to the reader who must read blind: it waits for the verdict."""
    policy = DeliveryPolicy(destination=DESTINATION, send_when="immediately")
    blind = add_case(factory, blind_read=True)
    audited = add_case(factory, status="final", finalized_by="rule:autonomous", blind_read=True)
    with transaction(factory) as session:
        outbox = ResultOutbox(session, policy)
        for prediction_id in (blind, audited):
            prediction = session.get(Prediction, prediction_id)
            assert prediction is not None
            outbox.prediction_recorded(prediction)
    assert _deliveries(factory, blind) == [] and _deliveries(factory, audited) == []

    with transaction(factory) as session:
        prediction = session.get(Prediction, blind)
        assert prediction is not None
        prediction.status = "reviewed"  # the blind read is in
        ResultOutbox(session, policy).verdict_recorded(prediction)
    assert [d.status for d in _deliveries(factory, blind)] == ["pending"]
