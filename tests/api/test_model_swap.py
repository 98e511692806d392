"""The active version is swapped when the database says so (also when another process changed it),
and a version whose weights fail their hash is never served."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from imaging_ai.api.app import create_app
from imaging_ai.persistence.models import ModelVersion
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.settings import Settings
from imaging_ai.storage.model_store import list_versions, write_version
from tests import samples
from tests.api.conftest import app_state, sign_in_admin

CXR = "chest-xray-pneumonia"


def copy_as_new_version(settings: Settings, name: str, *, temperature: float) -> None:
    """A second version of the task in the run-time store: the shipped weights, another temperature."""
    [shipped] = [v for v in list_versions(settings.model_store_dir) if v.task == CXR]
    card = {**shipped.card, "parent_version": shipped.version}
    card["calibration"] = {**card["calibration"], "temperature": temperature}
    write_version(
        settings.trained_models_dir,
        version=name,
        task=CXR,
        weights=shipped.read_verified_weights(),
        card=card,
        preprocessing=shipped.preprocessing,
    )


def activate_elsewhere(settings: Settings, version: str) -> None:
    """Changes the active version through a separate engine, as the worker or another API process would."""
    from imaging_ai.persistence.database import create_db_engine, create_session_factory

    engine = create_db_engine(settings.resolved_database_url)
    try:
        with transaction(create_session_factory(engine)) as session:
            session.execute(
                update(ModelVersion)
                .where(ModelVersion.task == CXR, ModelVersion.status == "active")
                .values(status="retired")
            )
            session.execute(
                update(ModelVersion)
                .where(ModelVersion.id == version)
                .values(status="active", activated_at=datetime.now(UTC))
            )
    finally:
        engine.dispose()


@pytest.fixture
def client_with_v2(settings: Settings) -> Iterator[TestClient]:
    copy_as_new_version(settings, f"{CXR}.v2", temperature=7.0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in_admin(client)
        yield client


def predict(client: TestClient) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/predictions",
        files={"file": ("x.png", samples.nih_png().read_bytes())},
        data={"task": CXR},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_new_versions_register_as_candidates_with_lineage(client_with_v2: TestClient) -> None:
    versions = {v["id"]: v for v in client_with_v2.get(f"/api/v1/tasks/{CXR}/models").json()}
    assert versions[f"{CXR}.v1"]["status"] == "active"
    assert versions[f"{CXR}.v2"]["status"] == "candidate"
    assert client_with_v2.get(f"/api/v1/models/{CXR}.v2").json()["lineage"] == [f"{CXR}.v1"]
    assert client_with_v2.get(f"/api/v1/models/{CXR}.v1").json()["children"] == [f"{CXR}.v2"]


def test_activation_by_another_process_is_picked_up(client_with_v2: TestClient, settings: Settings) -> None:
    before = predict(client_with_v2)
    assert before["model_version"] == f"{CXR}.v1"
    activate_elsewhere(settings, f"{CXR}.v2")
    after = predict(client_with_v2)
    assert after["model_version"] == f"{CXR}.v2"
    # Same weights, temperature 7: the calibrated answer is much less confident.
    assert after["confidence"] < before["confidence"]
    assert after["uncertainty"] > before["uncertainty"]
    # The old prediction is still explained by the version that made it.
    assert client_with_v2.get(f"/api/v1/predictions/{before['id']}/heatmap").status_code == 200
    assert client_with_v2.get(f"/api/v1/tasks/{CXR}").json()["active_version"] == f"{CXR}.v2"


def test_tampered_active_version_is_refused_and_the_previous_one_keeps_serving(
    client_with_v2: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert predict(client_with_v2)["model_version"] == f"{CXR}.v1"
    weights = settings.trained_models_dir / CXR / f"{CXR}.v2" / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    activate_elsewhere(settings, f"{CXR}.v2")
    caplog.set_level(logging.ERROR)
    answer = predict(client_with_v2)
    assert answer["model_version"] == f"{CXR}.v1"
    assert any("refused" in record.getMessage() for record in caplog.records)


def test_tampered_version_is_rejected_at_start_up_and_never_served(settings: Settings) -> None:
    copy_as_new_version(settings, f"{CXR}.v2", temperature=1.0)
    weights = settings.trained_models_dir / CXR / f"{CXR}.v2" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10])
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in_admin(client)
        versions = {v["id"]: v["status"] for v in client.get(f"/api/v1/tasks/{CXR}/models").json()}
        assert versions[f"{CXR}.v2"] == "rejected"
        assert versions[f"{CXR}.v1"] == "active"
        assert predict(client)["model_version"] == f"{CXR}.v1"


def test_no_loadable_version_is_503(settings: Settings) -> None:
    shipped_dir = settings.data_dir / "empty-store"
    shipped_dir.mkdir(parents=True)
    lonely = settings.model_copy(update={"model_store_dir": shipped_dir})
    with TestClient(create_app(lonely), raise_server_exceptions=False) as client:
        sign_in_admin(client)
        response = client.post(
            "/api/v1/predictions",
            files={"file": ("x.png", samples.nih_png().read_bytes())},
            data={"task": CXR},
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "model_unavailable"
        assert app_state(client).runtime is not None
