"""The learning queue (issue #15): waiting cases in the order their verdicts would teach most, a random
share, the reasons, blind reads kept blind, and re-scoring by the version serving a site after a
promotion."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imaging_ai.api.app import create_app
from imaging_ai.api.schemas.learning import HIDDEN_REASON
from imaging_ai.persistence.models import LearningScore
from imaging_ai.services.cases.learning_queue import random_key
from imaging_ai.services.training.worker import Worker
from imaging_ai.settings import Settings
from imaging_ai.storage.model_store import list_versions, write_version
from tests.api.conftest import app_state, sign_in_admin
from tests.verified_cases import NIH, nih_rows

CXR = "chest-xray-pneumonia"
V1, V2 = f"{CXR}.v1", f"{CXR}.v2"
SITE = "ward"


def _client(settings: Settings, **overrides: object) -> TestClient:
    configured = settings.model_copy(update={"auto_train_after": 0, **overrides})
    return TestClient(create_app(configured), raise_server_exceptions=False)


def _predict(client: TestClient, rows: list[dict[str, str]]) -> list[str]:
    ids = []
    for row in rows:
        content = (NIH / row["path"]).read_bytes()
        response = client.post(
            "/api/v1/predictions",
            files={"file": ("x.png", content)},
            data={"task": CXR, "site": SITE, "patient_id": row["patient_id"]},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _queue(client: TestClient, **params: object) -> dict:  # type: ignore[type-arg]
    response = client.get("/api/v1/learning-queue", params={"task": CXR, "site": SITE, **params})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def half_random(settings: Settings) -> Iterator[TestClient]:
    with _client(settings, learning_random_share=0.5) as client:
        sign_in_admin(client)
        yield client


def test_the_queue_orders_waiting_cases_with_a_random_share_and_says_why(half_random: TestClient) -> None:
    client = half_random
    ids = _predict(client, nih_rows(8))
    queue = _queue(client, limit=8)
    assert queue["total"] == 8 and queue["random_share"] == 0.5
    items = queue["items"]
    assert [item["rank"] for item in items] == list(range(1, 9))
    assert sorted(item["prediction"]["id"] for item in items) == sorted(ids)
    strategies = [item["strategy"] for item in items]
    # Every second position is a random draw; the rest is stratified (no verdicts yet: uninformative).
    assert strategies == ["stratified", "random"] * 4
    randoms = [item for item in items if item["strategy"] == "random"]
    keys = [random_key(uuid.UUID(item["prediction"]["id"])) for item in randoms]
    assert keys == sorted(keys)
    for item in items:
        assert item["scored_by"] == V1 and item["stale"] is False
        assert item["reason"]
    stratified = next(item for item in items if item["strategy"] == "stratified")
    assert "estimated" in stratified["reason"] and "0 of 20 verified answers" in stratified["reason"]

    # A verdict takes the case out of the queue.
    first = items[0]["prediction"]
    verdict = client.post(f"/api/v1/predictions/{first['id']}/feedback", json={"verdict": "agree"})
    assert verdict.status_code == 201, verdict.text
    after = _queue(client, limit=8)
    assert after["total"] == 7 and first["id"] not in {item["prediction"]["id"] for item in after["items"]}


def test_a_blind_read_keeps_its_reason_hidden(settings: Settings) -> None:
    with _client(settings, blind_read_fraction=1.0, learning_random_share=0.0) as client:
        sign_in_admin(client)
        _predict(client, nih_rows(2))
        items = _queue(client)["items"]
    assert len(items) == 2
    for item in items:
        assert item["prediction"]["answer_hidden"] is True
        assert item["reason"] == HIDDEN_REASON


def test_waiting_cases_are_rescored_by_the_version_now_serving_their_site(settings: Settings) -> None:
    [shipped] = [v for v in list_versions(settings.model_store_dir) if v.task == CXR]
    write_version(
        settings.trained_models_dir, version=V2, task=CXR, weights=shipped.read_verified_weights(),
        card={**shipped.card, "parent_version": shipped.version}, preprocessing=shipped.preprocessing,
    )  # fmt: skip
    with _client(settings) as client:
        sign_in_admin(client)
        ids = _predict(client, nih_rows(3))
        promoted = client.post(
            f"/api/v1/models/{V2}/promote", json={"reason": "proven at the ward", "site": SITE}
        )
        assert promoted.status_code == 200, promoted.text
        stale = _queue(client)["items"]
        assert {(item["scored_by"], item["stale"]) for item in stale} == {(V1, True)}

        worker = Worker(app_state(client).session_factory, app_state(client).settings, worker_id="w1")
        assert worker.rescore_learning_queue() == 3
        assert worker.rescore_learning_queue() == 0  # nothing stale is left
        fresh = _queue(client)["items"]
        assert {(item["scored_by"], item["stale"]) for item in fresh} == {(V2, False)}
        with app_state(client).session_factory() as session:
            scores = session.scalars(select(LearningScore)).all()
        assert sorted(str(s.prediction_id) for s in scores) == sorted(ids)
        assert {s.model_version_id for s in scores} == {V2}
        assert all(len(s.features) == len(scores[0].features) > 0 for s in scores)


def test_the_queue_needs_a_known_task(half_random: TestClient) -> None:
    assert half_random.get("/api/v1/learning-queue").status_code == 422
    unknown = half_random.get("/api/v1/learning-queue", params={"task": "no-such-task"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_task"
