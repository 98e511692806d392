"""The worklist grouped by study: a DICOM study's waiting cases of one task are one item, placed by its
highest-priority case; images without a study stay items of their own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests import samples
from tests.api.test_studies import stow
from tests.pacs.dicom_files import make_study


def test_a_study_is_one_item_when_grouped(client: TestClient) -> None:
    study_uid, files = make_study(count=3, series=1)
    assert stow(client, files) == 200
    png = samples.nih_png().read_bytes()
    answer = client.post(
        "/api/v1/predictions",
        data={"task": "chest-xray-pneumonia", "site": "north"},
        files={"file": ("x.png", png)},
    )
    assert answer.status_code == 201, answer.text

    by_case = client.get("/api/v1/worklist").json()
    assert by_case["total"] == 4
    assert all(
        item["cases_in_study"] == 1 and item["study_instance_uid"] is None for item in by_case["items"]
    )

    answer = client.get("/api/v1/worklist", params={"group": "study"})
    assert answer.status_code == 200, answer.text
    by_study = answer.json()
    assert by_study["total"] == 2
    grouped = [item for item in by_study["items"] if item["study_instance_uid"] is not None]
    (study,) = grouped
    assert study["cases_in_study"] == 3
    # It stands for the study's highest-priority case, and keeps the case order's place.
    study_cases = [
        item
        for item in by_case["items"]
        if client.get(f"/api/v1/images/{item['prediction']['image_id']}").json()["study_instance_uid"]
        == study["study_instance_uid"]
    ]
    assert len(study_cases) == 3
    assert study["prediction"]["id"] == study_cases[0]["prediction"]["id"]
    assert study["priority"] == max(item["priority"] for item in study_cases)
    assert study["study_instance_uid"] != study_uid  # the stored pseudonym, not the sender's UID

    assert client.get("/api/v1/worklist", params={"group": "series"}).status_code == 422
