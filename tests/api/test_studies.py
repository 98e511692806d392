"""Received studies and series over the API: grouping by the stored (pseudonymised) UIDs, instances in
order with their predictions, the series-level answer by its rule, and blind reads kept blind."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from imaging_ai.persistence.models import Image, Prediction
from tests.accounts import bearer, create_api_key
from tests.api.conftest import app_state, client_as
from tests.pacs.dicom_files import make_study, multipart


def stow(client: TestClient, files: list[bytes], *, site: str = "north", key: str | None = None) -> int:
    body, content_type = multipart(files)
    key = key or create_api_key(app_state(client).session_factory, "pacs-gateway", ("predict", "read"))
    answer = client_as(client, headers=bearer(key)).post(
        "/dicom-web/studies", params={"site": site}, content=body, headers={"Content-Type": content_type}
    )
    return answer.status_code


def test_studies_series_and_the_series_answer(client: TestClient) -> None:
    _, files = make_study(count=4, series=2)
    _, other = make_study(count=1)
    assert stow(client, files) == 200
    assert stow(client, other, site="south") == 200

    page = client.get("/api/v1/studies").json()
    assert page["total"] == 2 and len(page["items"]) == 2
    north = client.get("/api/v1/studies", params={"site": "north"}).json()
    assert north["total"] == 1
    (study,) = north["items"]
    assert study["series_count"] == 2 and study["instance_count"] == 4 and study["modalities"]
    assert client.get("/api/v1/studies", params={"limit": 1, "offset": 1}).json()["items"][0]["site"] in {
        "north",
        "south",
    }

    detail = client.get(f"/api/v1/studies/{study['study_instance_uid']}").json()
    assert [series["instance_count"] for series in detail["series"]] == [2, 2]
    series_uid = detail["series"][0]["series_instance_uid"]

    series = client.get(f"/api/v1/series/{series_uid}").json()
    numbers = [instance["instance_number"] for instance in series["instances"]]
    assert numbers == sorted(numbers) and len(numbers) == 2
    assert all(instance["prediction"]["image_id"] == instance["image_id"] for instance in series["instances"])
    (answer,) = series["answers"]
    assert answer["task"] == "chest-xray-pneumonia" and not answer["answer_hidden"]
    # The rule: the maximum positive-label probability over the slices, against its slice's threshold.
    slices = [instance["prediction"] for instance in series["instances"]]
    deciding = max(slices, key=lambda p: p["probabilities"]["pneumonia"])
    assert answer["probability"] == round(deciding["probabilities"]["pneumonia"], 6)
    assert answer["deciding_image_id"] == deciding["image_id"]
    threshold = deciding["decision_threshold"] if deciding["decision_threshold"] is not None else 0.5
    assert answer["decision_threshold"] == threshold
    assert answer["label"] == ("pneumonia" if answer["probability"] >= threshold else "normal")
    assert "maximum" in answer["rule"]

    assert client.get("/api/v1/studies/1.2.3").json()["error"]["code"] == "study_not_found"
    assert client.get("/api/v1/series/1.2.3").status_code == 404
    assert client.get("/api/v1/series/not-a-uid").status_code == 422


def test_a_blind_read_hides_the_series_answer(client: TestClient) -> None:
    _, files = make_study(count=2)
    assert stow(client, files) == 200
    factory = app_state(client).session_factory
    with factory.begin() as session:
        image = session.scalars(select(Image).order_by(Image.instance_number)).first()
        assert image is not None
        session.execute(
            update(Prediction)
            .where(Prediction.image_id == image.id)
            .values(blind_read=True, blind_read_probability=1.0)
        )
        series_uid = image.series_instance_uid
    series = client.get(f"/api/v1/series/{series_uid}").json()
    (answer,) = series["answers"]
    assert answer["answer_hidden"] and answer["label"] is None and answer["probability"] is None
    hidden, shown = series["instances"]
    assert hidden["prediction"]["answer_hidden"] and hidden["prediction"]["probabilities"] is None
    assert not shown["prediction"]["answer_hidden"]
