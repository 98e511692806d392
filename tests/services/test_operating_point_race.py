"""Two processes choosing the first threshold of one (task, site, version) at the same moment (verdicts
through two replicas): neither fails, the later choice stands. PostgreSQL: SQLite has one writer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.ml.operating_point import ThresholdChoice
from imaging_ai.ml.tasks import TASKS
from imaging_ai.persistence.database import create_db_engine, create_session_factory
from imaging_ai.persistence.models import ModelVersion, OperatingPoint
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.accounts.identity import SystemActor
from imaging_ai.services.models.serving import ServingService
from tests.conftest import _truncate_all

CXR = "chest-xray-pneumonia"
VERSION = "race-test.v1"


@pytest.fixture
def factory(migrated_postgres_url: str) -> Iterator[sessionmaker[Session]]:
    _truncate_all(migrated_postgres_url)
    engine = create_db_engine(migrated_postgres_url)
    made = create_session_factory(engine)
    with transaction(made) as session:
        session.add(
            ModelVersion(id=VERSION, task=CXR, status="active", store_path="x", weights_sha256="0" * 64)
        )
    yield made
    engine.dispose()


def _record(session: Session, threshold: float) -> OperatingPoint:
    choice = ThresholdChoice(threshold, true_positives=9, positives=10, true_negatives=8, negatives=10)
    return ServingService(session).record(TASKS[CXR], "north", VERSION, choice, "test", SystemActor("t"))


@pytest.mark.postgres
def test_concurrent_first_thresholds_of_one_site_both_succeed(factory: sessionmaker[Session]) -> None:
    first = factory()
    errors: list[BaseException] = []
    try:
        _record(first, 0.4)  # inserted, not committed: the other insert waits on it

        def second() -> None:
            try:
                with transaction(factory) as session:
                    _record(session, 0.6)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting on the first one's row
        first.commit()
        thread.join(timeout=30)
    finally:
        first.close()
    assert errors == []
    with factory() as session:
        stored = session.get(OperatingPoint, (CXR, "north", VERSION))
        assert stored is not None and stored.threshold == pytest.approx(0.6)
