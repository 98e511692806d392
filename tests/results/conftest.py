"""Results back to the PACS: the app with the results outbox wired into its services, and records."""

from __future__ import annotations

import io
import socket
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.persistence.models import Image, ModelVersion, Prediction
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.settings import Settings
from tests import samples

CHEST = "chest-xray-pneumonia"


def closed_port_url() -> str:
    """A DICOMweb URL on a loopback port nobody listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/dicom-web"


@pytest.fixture
def results_client(settings: Settings) -> Callable[..., TestClient]:
    """The real app signed in as an admin-clinician, with results settings overridden."""
    from imaging_ai.api.app import create_app
    from tests.accounts import create_user, sign_in_client
    from tests.api.conftest import app_state

    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        configured = settings.model_copy(update=overrides)
        client = TestClient(create_app(configured), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        factory = app_state(client).session_factory
        admin = create_user(factory, f"dr.results{len(clients)}", ("clinician", "admin"))
        return sign_in_client(client, factory, admin)

    yield make  # type: ignore[misc]
    for client in clients:
        client.__exit__(None, None, None)


def predict_dicom(client: TestClient, relative: str = samples.CR_UNCOMPRESSED, site: str = "north") -> str:
    data = samples.dicom(relative).read_bytes()
    response = client.post(
        "/api/v1/predictions", files={"file": ("x.dcm", data)}, data={"task": CHEST, "site": site}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def agree(client: TestClient, prediction_id: str) -> None:
    response = client.post(f"/api/v1/predictions/{prediction_id}/feedback", json={"verdict": "agree"})
    assert response.status_code == 201, response.text


def factory_of(client: TestClient) -> sessionmaker[Session]:
    from tests.api.conftest import app_state

    return app_state(client).session_factory


def heatmap_png(size: tuple[int, int] = (48, 64)) -> bytes:
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    PILImage.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8), mode="RGB").save(buffer, "PNG")
    return buffer.getvalue()


def add_case(
    factory: sessionmaker[Session],
    *,
    status: str = "pending_review",
    finalized_by: str | None = None,
    blind_read: bool = False,
    dicom: bool = True,
) -> uuid.UUID:
    """A prediction on a DICOM image (its pseudonymised identity), written directly."""
    with transaction(factory) as session:
        if session.get(ModelVersion, "results-test.v1") is None:
            session.add(
                ModelVersion(
                    id="results-test.v1",
                    task=CHEST,
                    status="candidate",
                    store_path="x",
                    weights_sha256="0" * 64,
                )
            )
        image_id, prediction_id = uuid.uuid4(), uuid.uuid4()
        uid = f"2.25.{uuid.uuid4().int}"
        session.add(
            Image(
                id=image_id,
                content_sha256=uuid.uuid4().hex * 2,
                size_bytes=1,
                media_type="application/dicom" if dicom else "image/png",
                format="dicom" if dicom else "png",
                modality="CR" if dicom else None,
                rows=8,
                cols=8,
                bits_stored=8,
                photometric_interpretation="MONOCHROME2",
                study_instance_uid=uid + "1" if dicom else None,
                series_instance_uid=uid + "2" if dicom else None,
                sop_instance_uid=uid + "3" if dicom else None,
                sop_class_uid="1.2.840.10008.5.1.4.1.1.1" if dicom else None,
            )
        )
        session.flush()
        session.add(
            Prediction(
                id=prediction_id,
                image_id=image_id,
                task=CHEST,
                model_version_id="results-test.v1",
                predicted_label="pneumonia",
                probabilities={"normal": 0.2, "pneumonia": 0.8},
                confidence=0.8,
                uncertainty=0.7,
                status=status,
                site="north",
                inference_ms=1.0,
                finalized_by=finalized_by,
                blind_read=blind_read,
                blind_read_probability=0.5 if blind_read else None,
                decision_threshold=0.4,
                operating_point="version",
            )
        )
    return prediction_id


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    from imaging_ai.persistence.database import create_db_engine, create_session_factory

    engine = create_db_engine(settings.resolved_database_url)
    yield create_session_factory(engine)
    engine.dispose()
