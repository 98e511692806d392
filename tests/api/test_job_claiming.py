"""Claiming work from many workers: training jobs and result deliveries are each claimed once, and on
PostgreSQL a claim skips the rows another worker holds (`FOR UPDATE SKIP LOCKED`) instead of waiting."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.persistence.database import create_db_engine, create_session_factory
from imaging_ai.persistence.models import Prediction, TrainingJob
from imaging_ai.persistence.result_deliveries import ResultDeliveryRepository
from imaging_ai.persistence.training_jobs import TrainingJobRepository
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.results.outbox import DeliveryPolicy, ResultOutbox
from tests.conftest import _truncate_all
from tests.results.conftest import add_case

CXR = "chest-xray-pneumonia"


def _factory(url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(url)
    yield create_session_factory(engine)
    engine.dispose()


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    yield from _factory(database_url)


@pytest.fixture
def postgres_factory(migrated_postgres_url: str) -> Iterator[sessionmaker[Session]]:
    _truncate_all(migrated_postgres_url)
    yield from _factory(migrated_postgres_url)


def _queue_jobs(factory: sessionmaker[Session], count: int) -> list[uuid.UUID]:
    start = datetime.now(UTC)
    with transaction(factory) as session:
        jobs = [
            TrainingJob(task=CXR, site=f"site-{n}", created_at=start + timedelta(milliseconds=n))
            for n in range(count)
        ]
        session.add_all(jobs)
        session.flush()
        return [job.id for job in jobs]


def _queue_deliveries(factory: sessionmaker[Session], count: int) -> list[uuid.UUID]:
    policy = DeliveryPolicy(destination="http://pacs.invalid/dicom-web")
    ids = []
    for _ in range(count):
        prediction_id = add_case(factory, status="final", finalized_by="rule:autonomous")
        with transaction(factory) as session:
            delivery = ResultOutbox(session, policy).prediction_recorded(
                session.get_one(Prediction, prediction_id)
            )
            assert delivery is not None
            ids.append(delivery.id)
    return ids


def test_racing_workers_claim_every_job_exactly_once(factory: sessionmaker[Session]) -> None:
    jobs = _queue_jobs(factory, 12)
    claims: dict[str, list[uuid.UUID]] = {f"w{n}": [] for n in range(4)}
    barrier = threading.Barrier(len(claims))
    errors: list[BaseException] = []

    def work(worker_id: str) -> None:
        barrier.wait()
        try:
            while True:
                with transaction(factory) as session:
                    job = TrainingJobRepository(session).claim_next(worker_id, datetime.now(UTC))
                    if job is None:
                        return
                    assert job.status == "running" and job.worker_id == worker_id
                    claims[worker_id].append(job.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    claimed = [job_id for ids in claims.values() for job_id in ids]
    assert sorted(claimed) == sorted(jobs)  # every job once, none twice
    with factory() as session:
        rows = {job.id: job for job in session.scalars(select(TrainingJob)).all()}
    for worker_id, ids in claims.items():
        assert all(rows[job_id].worker_id == worker_id and rows[job_id].status == "running" for job_id in ids)


def test_the_oldest_queued_job_is_claimed_first(factory: sessionmaker[Session]) -> None:
    jobs = _queue_jobs(factory, 3)
    order = []
    for _ in jobs:
        with transaction(factory) as session:
            job = TrainingJobRepository(session).claim_next("w", datetime.now(UTC))
            assert job is not None
            order.append(job.id)
    assert order == jobs
    with transaction(factory) as session:
        assert TrainingJobRepository(session).claim_next("w", datetime.now(UTC)) is None


@pytest.mark.postgres
def test_on_postgresql_a_job_claim_skips_a_job_another_worker_is_claiming(
    postgres_factory: sessionmaker[Session],
) -> None:
    first, second = _queue_jobs(postgres_factory, 2)
    holder = postgres_factory()
    try:
        held = TrainingJobRepository(holder).claim_next("a", datetime.now(UTC))  # not committed yet
        assert held is not None and held.id == first
        with transaction(postgres_factory) as session:
            # Waiting on the other claim's row lock would fail here instead of passing by it.
            session.execute(text("SET LOCAL lock_timeout = '2s'"))
            other = TrainingJobRepository(session).claim_next("b", datetime.now(UTC))
            assert other is not None and other.id == second
        holder.rollback()  # worker "a" dies before committing: its job is queued again, for anyone
    finally:
        holder.close()
    with transaction(postgres_factory) as session:
        again = TrainingJobRepository(session).claim_next("c", datetime.now(UTC))
        assert again is not None and again.id == first and again.worker_id == "c"


@pytest.mark.postgres
def test_on_postgresql_a_delivery_claim_skips_rows_another_worker_holds(
    postgres_factory: sessionmaker[Session],
) -> None:
    deliveries = _queue_deliveries(postgres_factory, 4)
    now = datetime.now(UTC)
    holder = postgres_factory()
    try:
        held = ResultDeliveryRepository(holder).claim_due("a", now, now + timedelta(minutes=5), 2)
        with transaction(postgres_factory) as session:
            session.execute(text("SET LOCAL lock_timeout = '2s'"))
            others = ResultDeliveryRepository(session).claim_due("b", now, now + timedelta(minutes=5), 10)
        holder.commit()
    finally:
        holder.close()
    assert len(held) == 2 and len(others) == 2
    assert sorted(held + others) == sorted(deliveries)


def test_racing_senders_claim_every_delivery_exactly_once(factory: sessionmaker[Session]) -> None:
    deliveries = _queue_deliveries(factory, 8)
    now = datetime.now(UTC)
    claims: list[list[uuid.UUID]] = [[], [], []]
    barrier = threading.Barrier(len(claims))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        barrier.wait()
        try:
            while True:
                with transaction(factory) as session:
                    got = ResultDeliveryRepository(session).claim_due(
                        f"w{n}", now, now + timedelta(minutes=5), 2
                    )
                if not got:
                    return
                claims[n].extend(got)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(claims))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(d for ids in claims for d in ids) == sorted(deliveries)
