"""Sending queued results: a failing destination is retried with exponential backoff, then marked failed;
an administrator's retry sends it; every attempt is audited without patient data; two workers never send
one delivery twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydicom.dataset import Dataset
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.persistence.models import AuditEvent, Prediction, ResultDelivery
from imaging_ai.persistence.result_deliveries import ResultDeliveryRepository
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.accounts.identity import SystemActor
from imaging_ai.services.results.deliveries import DeliveryService
from imaging_ai.services.results.outbox import DeliveryPolicy, ResultOutbox
from imaging_ai.services.results.sender import ResultSender
from imaging_ai.services.results.stow import store_instances
from tests.results.conftest import add_case, closed_port_url, heatmap_png


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class RecordingStore:
    """A destination that stores everything, slowly enough for two workers to overlap."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, url: str, datasets: Sequence[Dataset]) -> list[str]:
        time.sleep(self.delay)
        uids = [str(d.SOPInstanceUID) for d in datasets]
        with self.lock:
            self.calls.append((url, uids))
        return uids


def _queue(factory: sessionmaker[Session], policy: DeliveryPolicy, **case: object) -> uuid.UUID:
    prediction_id = add_case(factory, status="final", finalized_by="rule:autonomous", **case)  # type: ignore[arg-type]
    with transaction(factory) as session:
        prediction = session.get(Prediction, prediction_id)
        assert prediction is not None
        delivery = ResultOutbox(session, policy).prediction_recorded(prediction)
        assert delivery is not None
        return delivery.id


def _delivery(factory: sessionmaker[Session], delivery_id: uuid.UUID) -> ResultDelivery:
    with factory() as session:
        delivery = session.get(ResultDelivery, delivery_id)
        assert delivery is not None
        return delivery


def _audit(factory: sessionmaker[Session], delivery_id: uuid.UUID) -> list[AuditEvent]:
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.target_id == str(delivery_id)).order_by(AuditEvent.id)
            ).all()
        )


def test_a_refused_connection_is_retried_with_backoff_then_failed_and_sent_after_a_retry(
    factory: sessionmaker[Session],
) -> None:
    destination = closed_port_url()
    policy = DeliveryPolicy(destination=destination, max_attempts=3)
    delivery_id = _queue(factory, policy)
    clock = Clock()

    def real_store(url: str, datasets: Sequence[Dataset]) -> list[str]:
        return store_instances(url, datasets, timeout=5)

    sender = ResultSender(
        factory, policy, lambda _id: heatmap_png(), "worker-a", store=real_store, clock=clock
    )

    assert sender.send_due() == 1
    first = _delivery(factory, delivery_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.next_attempt_at == clock.now + timedelta(seconds=30)
    assert first.last_error is not None and "could not reach" in first.last_error
    assert first.claimed_by is None

    assert sender.send_due() == 0  # not due yet
    clock.now += timedelta(seconds=30)
    assert sender.send_due() == 1
    second = _delivery(factory, delivery_id)
    assert (second.status, second.attempts) == ("pending", 2)
    assert second.next_attempt_at == clock.now + timedelta(seconds=60)  # doubled

    clock.now += timedelta(seconds=60)
    assert sender.send_due() == 1
    failed = _delivery(factory, delivery_id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    clock.now += timedelta(days=1)
    assert sender.send_due() == 0  # failed: never tried again by itself

    events = _audit(factory, delivery_id)
    assert [e.details["outcome"] for e in events] == ["retry", "retry", "failed"]
    assert [e.details["attempt"] for e in events] == [1, 2, 3]
    assert {e.action for e in events} == {"result.delivery"}

    # An administrator retries it; the destination now answers.
    with transaction(factory) as session:
        DeliveryService(session).retry(delivery_id, actor=SystemActor("admin"))
    working = RecordingStore()
    sender = ResultSender(factory, policy, lambda _id: heatmap_png(), "worker-a", store=working, clock=clock)
    assert sender.send_due() == 1
    sent = _delivery(factory, delivery_id)
    assert (sent.status, sent.attempts, sent.sent_final, sent.last_error) == ("sent", 1, True, None)
    assert sent.sent_sop_instance_uids == working.calls[0][1] and len(working.calls[0][1]) == 2
    assert [e.action for e in _audit(factory, delivery_id)][-2:] == [
        "result.delivery_retry",
        "result.delivery",
    ]


def test_backoff_doubles_from_30_seconds_and_is_capped() -> None:
    policy = DeliveryPolicy(destination="http://pacs.invalid")
    assert [policy.delay_after(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert policy.delay_after(50) == timedelta(hours=1)


def test_audit_events_of_deliveries_hold_no_patient_data(factory: sessionmaker[Session]) -> None:
    destination = "http://user:secret@127.0.0.1:9/dicom-web?token=abc"
    policy = DeliveryPolicy(destination=destination, max_attempts=1)
    delivery_id = _queue(factory, policy)
    ResultSender(factory, policy, lambda _id: heatmap_png(), "w", clock=Clock()).send_due()
    [event] = _audit(factory, delivery_id)
    assert event.details["destination"] == "http://127.0.0.1:9/dicom-web"  # no credentials, no query
    assert "secret" not in str(event.details) and "token" not in str(event.details)
    assert set(event.details) == {
        "prediction_id",
        "destination",
        "attempt",
        "outcome",
        "final",
        "error",
        "sop_instance_uids",
    }


def test_two_workers_never_send_one_delivery_twice(factory: sessionmaker[Session]) -> None:
    policy = DeliveryPolicy(destination="http://pacs.invalid/dicom-web")
    deliveries = [_queue(factory, policy) for _ in range(4)]
    now = datetime.now(UTC)

    # The claim is the lock: what one worker claimed, the other cannot.
    with transaction(factory) as session:
        claimed = ResultDeliveryRepository(session).claim_due("a", now, now + timedelta(minutes=5), 2)
    with transaction(factory) as session:
        others = ResultDeliveryRepository(session).claim_due("b", now, now + timedelta(minutes=5), 10)
    assert len(claimed) == 2 and set(claimed).isdisjoint(others) and len(others) == 2
    with transaction(factory) as session:  # release the claims (as an expiry would)
        for row in session.scalars(select(ResultDelivery)).all():
            row.claimed_by, row.claimed_until = None, None

    # And racing for real, in two threads.
    store = RecordingStore(delay=0.05)
    senders = [
        ResultSender(factory, policy, lambda _id: heatmap_png(), name, store=store) for name in ("a", "b")
    ]
    threads = [threading.Thread(target=sender.send_due) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_reports = [uids[1] for _url, uids in store.calls]
    assert len(sent_reports) == len(set(sent_reports)) == len(deliveries)
    assert {_delivery(factory, d).status for d in deliveries} == {"sent"}
    assert all(len(_audit(factory, d)) == 1 for d in deliveries)


def test_an_expired_claim_is_taken_up_by_another_worker(factory: sessionmaker[Session]) -> None:
    policy = DeliveryPolicy(destination="http://pacs.invalid/dicom-web")
    delivery_id = _queue(factory, policy)
    now = datetime.now(UTC)
    with transaction(factory) as session:  # worker "dead" claims it and dies
        assert ResultDeliveryRepository(session).claim_due("dead", now, now + timedelta(minutes=5), 5)
    clock = Clock()
    store = RecordingStore()
    sender = ResultSender(factory, policy, lambda _id: heatmap_png(), "alive", store=store, clock=clock)
    assert sender.send_due() == 0
    clock.now = now + timedelta(minutes=6)
    assert sender.send_due() == 1
    assert _delivery(factory, delivery_id).status == "sent"


def test_a_preliminary_result_is_followed_by_the_final_one_as_new_instances(
    factory: sessionmaker[Session],
) -> None:
    from imaging_ai.persistence.models import Feedback

    policy = DeliveryPolicy(destination="http://pacs.invalid/dicom-web", send_when="immediately")
    prediction_id = add_case(factory)
    with transaction(factory) as session:
        prediction = session.get(Prediction, prediction_id)
        assert prediction is not None
        delivery = ResultOutbox(session, policy).prediction_recorded(prediction)
        assert delivery is not None
        delivery_id = delivery.id
    store = RecordingStore()
    sender = ResultSender(factory, policy, lambda _id: heatmap_png(), "w", store=store)
    assert sender.send_due() == 1
    assert _delivery(factory, delivery_id).sent_final is False

    with transaction(factory) as session:  # a clinician's verdict, as FeedbackService records it
        prediction = session.get(Prediction, prediction_id)
        assert prediction is not None
        session.add(Feedback(prediction_id=prediction_id, sequence=1, verdict="agree", reviewer="dr.x"))
        prediction.status = "reviewed"
        ResultOutbox(session, policy).verdict_recorded(prediction)
    assert sender.send_due() == 1
    final = _delivery(factory, delivery_id)
    assert (final.status, final.sent_final) == ("sent", True)
    [(_u1, preliminary), (_u2, again)] = store.calls
    assert set(preliminary).isdisjoint(again) and final.sent_sop_instance_uids == preliminary + again
