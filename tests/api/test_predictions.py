"""Predictions from the shipped model versions, through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from imaging_ai.services.cases.images import pseudonymise
from tests import samples
from tests.api.conftest import app_state

CXR = "chest-xray-pneumonia"
MRI = "brain-mri-tumor"


def predict(client: TestClient, path: Path, task: str = CXR, **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/predictions", files={"file": (path.name, path.read_bytes())}, data={"task": task, **form}
    )


def mri_image() -> Path:
    return next(
        iter(sorted((samples.datasets_dir() / "mri-brain-tumor" / "images" / "glioma").glob("*.jpg")))
    )


def test_tasks_list_labels_and_active_shipped_versions(client: TestClient) -> None:
    tasks = {task["name"]: task for task in client.get("/api/v1/tasks").json()}
    assert tasks[CXR]["labels"] == ["normal", "pneumonia"]
    assert tasks[MRI]["labels"] == ["glioma", "meningioma", "pituitary"]
    assert tasks[CXR]["active_version"] == f"{CXR}.v1"
    assert tasks[MRI]["active_version"] == f"{MRI}.v1"


def test_chest_xray_prediction(client: TestClient) -> None:
    response = predict(client, samples.nih_png(), site="nih", accession_number="ACC-1", external_id="ris-9")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["task"] == CXR
    assert body["model_version"] == f"{CXR}.v1"
    assert set(body["probabilities"]) == {"normal", "pneumonia"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert body["predicted_label"] == max(body["probabilities"], key=body["probabilities"].get)
    assert body["confidence"] == pytest.approx(body["probabilities"][body["predicted_label"]], abs=1e-5)
    assert 0.0 <= body["uncertainty"] <= 1.0
    assert body["status"] == "pending_review"
    # Accession numbers and external ids are kept and returned as keyed hashes only (issue #13).
    key = app_state(client).settings.pseudonym_key_bytes
    assert (body["site"], body["accession_number"], body["external_id"]) == (
        "nih",
        pseudonymise("ACC-1", key),
        pseudonymise("ris-9", key),
    )
    assert "ACC-1" not in response.text and "ris-9" not in response.text
    assert body["inference_ms"] > 0
    assert client.get(f"/api/v1/predictions/{body['id']}").json() == body


def test_prediction_on_a_stored_image_and_the_filtered_list(client: TestClient) -> None:
    image = client.post(
        "/api/v1/images",
        files={"file": ("x.jpeg", samples.guangzhou_jpeg().read_bytes())},
        data={"site": "gz"},
    ).json()
    first = client.post("/api/v1/predictions", data={"task": CXR, "image_id": image["id"]})
    assert first.status_code == 201, first.text
    assert first.json()["image_id"] == image["id"]
    assert first.json()["site"] == "gz"
    predict(client, mri_image(), task=MRI, site="mri-site")

    everything = client.get("/api/v1/predictions").json()
    assert everything["total"] == 2
    only_cxr = client.get("/api/v1/predictions", params={"task": CXR}).json()
    assert [p["id"] for p in only_cxr["items"]] == [first.json()["id"]]
    assert client.get("/api/v1/predictions", params={"site": "mri-site"}).json()["total"] == 1
    assert client.get("/api/v1/predictions", params={"model_version": f"{MRI}.v1"}).json()["total"] == 1
    assert client.get("/api/v1/predictions", params={"status": "pending_review"}).json()["total"] == 2
    assert client.get("/api/v1/predictions", params={"status": "final"}).json()["total"] == 0
    future = client.get("/api/v1/predictions", params={"created_after": "2999-01-01T00:00:00Z"}).json()
    assert future["total"] == 0
    paged = client.get("/api/v1/predictions", params={"limit": 1, "offset": 1}).json()
    assert len(paged["items"]) == 1 and paged["total"] == 2
    assert client.get("/api/v1/predictions", params={"status": "nonsense"}).status_code == 422


def test_mri_prediction_has_three_calibrated_probabilities(client: TestClient) -> None:
    body = predict(client, mri_image(), task=MRI).json()
    assert set(body["probabilities"]) == {"glioma", "meningioma", "pituitary"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_heatmap_is_an_overlay_cached_after_the_first_request(client: TestClient) -> None:
    body = predict(client, samples.nih_png()).json()
    first = client.get(f"/api/v1/predictions/{body['id']}/heatmap")
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/png"
    overlay = PILImage.open(io.BytesIO(first.content))
    assert overlay.mode == "RGB" and overlay.size == (256, 256)
    cached = list(app_state(client).settings.heatmaps_dir.glob(f"{body['id']}-*.png"))
    assert len(cached) == 1
    assert client.get(f"/api/v1/predictions/{body['id']}/heatmap").content == first.content
    other_label = next(label for label in ("normal", "pneumonia") if label != body["predicted_label"])
    other = client.get(f"/api/v1/predictions/{body['id']}/heatmap", params={"label": other_label})
    assert other.status_code == 200 and other.content != first.content
    bad = client.get(f"/api/v1/predictions/{body['id']}/heatmap", params={"label": "fracture"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_label"


def test_model_cards_and_lineage(client: TestClient) -> None:
    versions = client.get(f"/api/v1/tasks/{CXR}/models").json()
    assert [v["id"] for v in versions] == [f"{CXR}.v1"]
    assert versions[0]["status"] == "active"
    assert versions[0]["metrics"]["source-test"]["auc"] > 0.9
    detail = client.get(f"/api/v1/models/{CXR}.v1").json()
    card = detail["card"]
    assert card["task"] == CXR and card["labels"] == ["normal", "pneumonia"]
    assert card["weights_sha256"] == detail["weights_sha256"]
    assert set(card["metrics"]) >= {"validation", "source-test", "nih-adult-external"}
    assert card["metrics"]["source-test"]["ci95"]["auc"][0] <= card["metrics"]["source-test"]["auc"]
    assert card["calibration"]["temperature"] > 0
    assert detail["lineage"] == [] and detail["parent"] is None


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"data": {"task": "no-such-task"}, "with_file": True}, 404, "unknown_task"),
        ({"data": {"task": CXR}}, 422, "image_required"),
        ({"data": {"task": CXR, "image_id": "00000000-0000-0000-0000-000000000000"}}, 404, "not_found"),
        ({"data": {"image_id": "00000000-0000-0000-0000-000000000000"}}, 422, "validation_error"),
    ],
)
def test_bad_prediction_requests(client: TestClient, request_kwargs: dict, status: int, code: str) -> None:  # type: ignore[type-arg]
    files = {"file": ("x.png", samples.nih_png().read_bytes())} if request_kwargs.get("with_file") else None
    response = client.post("/api/v1/predictions", data=request_kwargs["data"], files=files)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_file_and_image_id_together_are_refused(client: TestClient) -> None:
    image = client.post("/api/v1/images", files={"file": ("x.png", samples.nih_png().read_bytes())}).json()
    response = client.post(
        "/api/v1/predictions",
        data={"task": CXR, "image_id": image["id"]},
        files={"file": ("x.png", samples.nih_png().read_bytes())},
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "image_required"


def test_a_ct_image_is_refused_for_the_chest_xray_task(client: TestClient) -> None:
    response = predict(client, samples.dicom(samples.CT_SMALL))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "modality_mismatch"
    # A chest radiograph in DICOM is accepted.
    assert predict(client, samples.dicom(samples.CR_MONOCHROME1_JPEG)).status_code == 201


def test_unknown_names_are_404(client: TestClient) -> None:
    assert client.get("/api/v1/models/nope.v9").json()["error"]["code"] == "unknown_model_version"
    assert client.get("/api/v1/tasks/nope/models").json()["error"]["code"] == "unknown_task"
    assert (
        client.get("/api/v1/predictions", params={"task": "nope"}).json()["error"]["code"] == "unknown_task"
    )
    missing = client.get("/api/v1/predictions/00000000-0000-0000-0000-000000000000/heatmap")
    assert missing.status_code == 404
