"""Site-scoped serving: which version answers at a site, at which threshold, and per-site promotion and
rollback through the API, with old predictions keeping the version and threshold that made them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imaging_ai.api.app import create_app
from imaging_ai.ml.operating_point import choose_threshold
from imaging_ai.persistence.models import AuditEvent
from imaging_ai.persistence.reviews import reviewed_predictions
from imaging_ai.services.training.case_split import is_sequestered_group
from imaging_ai.settings import Settings
from imaging_ai.storage.model_store import list_versions, write_version
from tests import samples
from tests.api.conftest import app_state, sign_in_admin
from tests.verified_cases import nih_rows, review

CXR = "chest-xray-pneumonia"
V1, V2 = f"{CXR}.v1", f"{CXR}.v2"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """v2: the shipped weights with an operating point of its own on its card."""
    [shipped] = [v for v in list_versions(settings.model_store_dir) if v.task == CXR]
    card = {**shipped.card, "parent_version": shipped.version, "operating_point": {"threshold": 0.35}}
    write_version(
        settings.trained_models_dir, version=V2, task=CXR, weights=shipped.read_verified_weights(),
        card=card, preprocessing=shipped.preprocessing,
    )  # fmt: skip
    manual = settings.model_copy(update={"auto_train_after": 0})
    with TestClient(create_app(manual), raise_server_exceptions=False) as client:
        sign_in_admin(client)
        yield client


def predict(client: TestClient, site: str | None, image: Path | None = None) -> dict:  # type: ignore[type-arg]
    data = {"task": CXR, **({"site": site} if site else {})}
    content = (image or samples.nih_png()).read_bytes()
    response = client.post("/api/v1/predictions", files={"file": ("x.png", content)}, data=data)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def site_row(client: TestClient, site: str) -> dict:  # type: ignore[type-arg]
    task = client.get(f"/api/v1/tasks/{CXR}").json()
    return next(row for row in task["sites"] if row["site"] == site)  # type: ignore[no-any-return]


def test_routing_per_site_promotion_and_rollback(client: TestClient) -> None:
    before = predict(client, "nih")
    assert (before["model_version"], before["routing"]) == (V1, "default")
    # The shipped version's card predates operating points: the label of highest probability.
    assert before["operating_point"] == "argmax" and before["decision_threshold"] is None

    promoted = client.post(f"/api/v1/models/{V2}/promote", json={"reason": "proven at nih", "site": "nih"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["serving_sites"] == ["nih"] and promoted.json()["is_default"] is False

    task = client.get(f"/api/v1/tasks/{CXR}").json()
    assert task["default_version"] == task["active_version"] == V1
    nih = site_row(client, "nih")
    assert (nih["version"], nih["routing"]) == (V2, "site")
    assert nih["operating_point"] == {**nih["operating_point"], "threshold": 0.35, "source": "version"}

    at_nih = predict(client, "nih")
    assert (at_nih["model_version"], at_nih["routing"], at_nih["decision_threshold"]) == (V2, "site", 0.35)
    assert at_nih["operating_point"] == "version"
    called = at_nih["probabilities"]["pneumonia"] >= 0.35
    assert at_nih["predicted_label"] == ("pneumonia" if called else "normal")
    # A stored image keeps the site it came from; an image never sent from a site has none.
    for site, image in (("a-new-site", None), (None, samples.guangzhou_jpeg())):
        other = predict(client, site, image)
        assert (other["model_version"], other["routing"], other["operating_point"]) == (
            V1,
            "default",
            "argmax",
        )

    # The earlier answer keeps the version, routing and threshold that made it.
    again = client.get(f"/api/v1/predictions/{before['id']}").json()
    assert (again["model_version"], again["routing"], again["decision_threshold"]) == (V1, "default", None)

    with app_state(client).session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "model.promote")).all()
    assert [(e.target_id, e.details["site"], e.details["previous"]) for e in events] == [(V2, "nih", V1)]

    rolled = client.post(f"/api/v1/tasks/{CXR}/rollback", json={"reason": "undo at nih", "site": "nih"})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["id"] == V1
    assert site_row(client, "nih")["routing"] == "default"
    assert predict(client, "nih")["model_version"] == V1
    nothing_left = client.post(f"/api/v1/tasks/{CXR}/rollback", json={"reason": "again", "site": "nih"})
    assert nothing_left.status_code == 409 and nothing_left.json()["error"]["code"] == "promotion_refused"
    unknown = client.post(f"/api/v1/models/{CXR}.v9/promote", json={"reason": "nope", "site": "nih"})
    assert unknown.status_code == 404


def test_a_site_threshold_is_chosen_on_its_verified_cases_and_served(client: TestClient) -> None:
    review(client, nih_rows(70))
    nih = site_row(client, "nih")
    point = nih["operating_point"]
    assert point["source"] == "site" and point["target_sensitivity"] == 0.9

    # The same rule, recomputed here from the recorded answers and verdicts.
    with app_state(client).session_factory() as session:
        cases = [
            case
            for case in reviewed_predictions(session, CXR, model_version=V1, site="nih")
            if not is_sequestered_group(case.patient_group)
        ]
    positives = np.array([case.label == "pneumonia" for case in cases])
    scores = np.array([case.probabilities["pneumonia"] for case in cases])
    expected = choose_threshold(scores, positives, 0.9)
    assert point["threshold"] == pytest.approx(expected.threshold)
    assert (point["positives"], point["negatives"]) == (expected.positives, expected.negatives)
    assert point["sensitivity"] >= 0.9 and point["sensitivity_ci95"][0] <= point["sensitivity"]

    served = predict(client, "nih")
    assert served["operating_point"] == "site" and served["decision_threshold"] == pytest.approx(
        expected.threshold
    )
    called = served["probabilities"]["pneumonia"] >= expected.threshold
    assert served["predicted_label"] == ("pneumonia" if called else "normal")
    # Another site still has too few verdicts: the version's own threshold (none on v1's card).
    assert predict(client, "elsewhere")["operating_point"] == "argmax"
    with app_state(client).session_factory() as session:
        changes = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "operating_point.change")
        ).all()
    assert changes and changes[-1].details["after"] == pytest.approx(expected.threshold)
