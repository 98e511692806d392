"""Verdicts: validation, append-only history, label of record, and no verdict lost under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from imaging_ai.settings import Settings
from tests import samples
from tests.accounts import create_user, database, session_headers
from tests.api.conftest import app_state, client_as
from tests.live_server import serve

CXR = "chest-xray-pneumonia"


def make_prediction(client: TestClient | httpx.Client) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/predictions", files={"file": ("x.png", samples.nih_png().read_bytes())}, data={"task": CXR}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def other_label(prediction: dict) -> str:  # type: ignore[type-arg]
    return next(label for label in ("normal", "pneumonia") if label != prediction["predicted_label"])


def test_verdicts_are_appended_and_the_latest_is_the_label_of_record(client: TestClient) -> None:
    prediction = make_prediction(client)
    url = f"/api/v1/predictions/{prediction['id']}/feedback"
    empty = client.get(url).json()
    assert empty["verdicts"] == [] and empty["label_of_record"] is None

    agree = client.post(url, json={"verdict": "agree"})
    assert agree.status_code == 201, agree.text
    assert agree.json()["sequence"] == 1
    assert agree.json()["reviewer"] == "dr.admin"  # the signed-in user, never a body field
    assert client.get(url).json()["label_of_record"] == prediction["predicted_label"]

    corrected = other_label(prediction)
    second_reader = client_as(client, create_user(app_state(client).session_factory, "dr.b"))
    disagree = second_reader.post(
        url, json={"verdict": "disagree", "label": corrected, "notes": "second read"}
    )
    assert disagree.status_code == 201
    assert disagree.json()["reviewer"] == "dr.b"
    history = client.get(url).json()
    assert [v["verdict"] for v in history["verdicts"]] == ["agree", "disagree"]
    assert [v["sequence"] for v in history["verdicts"]] == [1, 2]
    assert history["label_of_record"] == corrected
    assert history["predicted_label"] == prediction["predicted_label"]

    client.post(url, json={"verdict": "unreadable"})
    assert client.get(url).json()["label_of_record"] is None
    # The AI's answer is untouched; the case is now reviewed.
    after = client.get(f"/api/v1/predictions/{prediction['id']}").json()
    assert after["predicted_label"] == prediction["predicted_label"]
    assert after["probabilities"] == prediction["probabilities"]
    assert after["status"] == "reviewed"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"verdict": "disagree"}, "invalid_verdict"),
        ({"verdict": "disagree", "label": "fracture"}, "unknown_label"),
        ({"verdict": "disagree", "label": "__predicted__"}, "invalid_verdict"),
        ({"verdict": "agree", "label": "__other__"}, "invalid_verdict"),
        ({"verdict": "unreadable", "label": "normal"}, "invalid_verdict"),
        ({"verdict": "maybe"}, "validation_error"),
        ({}, "validation_error"),
        # Nobody can give a verdict in someone else's name: the reviewer comes from the sign-in.
        ({"verdict": "agree", "reviewer": "dr.someone.else"}, "validation_error"),
        ({"verdict": "agree", "extra": 1}, "validation_error"),
    ],
)
def test_invalid_verdicts_are_refused_and_nothing_is_recorded(
    client: TestClient, body: dict, code: str
) -> None:  # type: ignore[type-arg]
    prediction = make_prediction(client)
    body = {
        key: (
            prediction["predicted_label"]
            if value == "__predicted__"
            else other_label(prediction)
            if value == "__other__"
            else value
        )
        for key, value in body.items()
    }
    url = f"/api/v1/predictions/{prediction['id']}/feedback"
    response = client.post(url, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert client.get(url).json()["verdicts"] == []
    assert client.get(f"/api/v1/predictions/{prediction['id']}").json()["status"] == "pending_review"


def test_verdict_on_an_unknown_prediction_is_404(client: TestClient) -> None:
    url = "/api/v1/predictions/00000000-0000-0000-0000-000000000000/feedback"
    assert client.post(url, json={"verdict": "agree"}).status_code == 404
    assert client.get(url).status_code == 404


def test_concurrent_verdicts_are_all_kept_in_order(settings: Settings) -> None:
    with serve(settings) as base_url, database(settings) as factory:
        reviewers = [session_headers(factory, create_user(factory, f"dr.{index}")) for index in range(6)]
        with httpx.Client(base_url=base_url, timeout=60, headers=reviewers[0]) as client:
            prediction = make_prediction(client)
            url = f"/api/v1/predictions/{prediction['id']}/feedback"

            def give(index: int) -> int:
                headers = reviewers[index % len(reviewers)]
                return httpx.post(f"{base_url}{url}", json={"verdict": "agree"}, headers=headers).status_code

            with ThreadPoolExecutor(max_workers=12) as pool:
                statuses = list(pool.map(give, range(24)))
            assert statuses == [201] * 24
            history = client.get(url).json()["verdicts"]
        assert sorted(v["reviewer"] for v in history) == sorted(f"dr.{i % 6}" for i in range(24))
        assert [v["sequence"] for v in history] == list(range(1, 25))
