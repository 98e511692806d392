"""Earned autonomy through the API: the recommendation moves only with evidence, an admin applies it,
answers are finalised by the level's rule with an audit fraction, and every fall-back rule fires."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import select

from imaging_ai.api.app import create_app
from imaging_ai.persistence.models import AuditEvent, ModelVersion
from imaging_ai.settings import Settings
from tests.api.conftest import app_state, sign_in_admin
from tests.conftest import datasets_dir

CXR = "chest-xray-pneumonia"
GUANGZHOU = datasets_dir() / "cxr-guangzhou-pediatric"


def guangzhou_test_images(count: int) -> list[Path]:
    rows = [r for r in csv.DictReader((GUANGZHOU / "manifest.csv").open()) if r["split"] == "test"]
    return [GUANGZHOU / r["path"] for r in rows[::7][:count]]


def inverted_png(path: Path) -> bytes:
    """The same radiograph with its grey scale inverted: a protocol error (MONOCHROME1 read as 2)."""
    pixels = np.asarray(PILImage.open(path).convert("L"))
    buffer = io.BytesIO()
    PILImage.fromarray(255 - pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """Small evidence thresholds so that a test can earn a level with tens of cases, not hundreds."""
    fast = settings.model_copy(
        update={
            "autonomy_min_verdicts": 20,
            "autonomy_target": 0.8,
            "audit_fraction": 0.0,
            "auto_train_after": 0,
        }
    )
    with TestClient(create_app(fast), raise_server_exceptions=False) as test_client:
        yield sign_in_admin(test_client)


def predict(client: TestClient, data: bytes, site: str = "gz", name: str = "x.jpeg") -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/predictions", files={"file": (name, data)}, data={"task": CXR, "site": site}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def agree(client: TestClient, prediction: dict) -> None:  # type: ignore[type-arg]
    response = client.post(f"/api/v1/predictions/{prediction['id']}/feedback", json={"verdict": "agree"})
    assert response.status_code == 201, response.text


def site_state(client: TestClient, site: str) -> dict:  # type: ignore[type-arg]
    sites = client.get(f"/api/v1/tasks/{CXR}/autonomy").json()["sites"]
    return next(s for s in sites if s["site"] == site)


def set_level(client: TestClient, site: str, level: str, **extra: object):  # type: ignore[no-untyped-def]
    body = {"site": site, "level": level, "reason": "quality board decision", **extra}
    return client.put(f"/api/v1/tasks/{CXR}/autonomy", json=body)


def earn_semi_autonomy(client: TestClient, images: list[Path]) -> dict:  # type: ignore[type-arg]
    for path in images:
        agree(client, predict(client, path.read_bytes()))
    state = site_state(client, "gz")
    assert state["recommendation"]["level"] == "semi_autonomous", state
    applied = set_level(client, "gz", "semi_autonomous")
    assert applied.status_code == 200, applied.text
    return applied.json()  # type: ignore[no-any-return]


def test_every_answer_waits_for_a_clinician_by_default(client: TestClient) -> None:
    prediction = predict(client, guangzhou_test_images(1)[0].read_bytes())
    assert prediction["status"] == "pending_review" and prediction["autonomy_level"] == "supervised"
    assert prediction["finalized_by"] is None and prediction["audit_sample"] is False
    worklist = client.get("/api/v1/worklist", params={"task": CXR}).json()
    assert [item["prediction"]["id"] for item in worklist["items"]] == [prediction["id"]]
    assert worklist["items"][0]["reason"] == "review"


def test_the_recommendation_moves_only_when_the_evidence_supports_it(client: TestClient) -> None:
    images = guangzhou_test_images(20)
    for path in images[:19]:
        agree(client, predict(client, path.read_bytes()))
    state = site_state(client, "gz")
    assert state["evidence"]["verdicts"] == 19 and state["recommendation"]["level"] == "supervised"
    assert "at least 20" in state["recommendation"]["reason"]
    refused = set_level(client, "gz", "semi_autonomous", confidence_threshold=0.5)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "autonomy_not_earned"

    agree(client, predict(client, images[19].read_bytes()))
    state = site_state(client, "gz")
    evidence = state["evidence"]
    assert evidence["agreement"]["rate"] == 1.0 and evidence["agreement"]["low"] >= 0.8
    assert state["recommendation"]["level"] == "semi_autonomous"
    threshold = state["recommendation"]["confidence_threshold"]
    assert threshold == evidence["threshold_meeting_target"] and 0 < threshold <= 1
    # Not beyond the recommendation: autonomous needs a semi-autonomous level first.
    assert set_level(client, "gz", "autonomous").status_code == 409
    assert set_level(client, "gz", "semi_autonomous", confidence_threshold=threshold / 2).status_code == 409
    applied = set_level(client, "gz", "semi_autonomous")
    assert applied.status_code == 200 and applied.json()["level"] == "semi_autonomous"
    assert applied.json()["confidence_threshold"] == threshold and applied.json()["changed_by"] == "dr.admin"
    with app_state(client).session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "autonomy.change")).all()
        assert [(e.actor, e.details["after"], e.details["reason"]) for e in events] == [
            ("dr.admin", "semi_autonomous", "quality board decision")
        ]
    # Other sites keep their own (default) level.
    assert predict(client, images[0].read_bytes(), site="elsewhere")["status"] == "pending_review"


def test_semi_autonomy_finalises_confident_answers_and_audits_a_fraction(client: TestClient) -> None:
    images = guangzhou_test_images(24)
    earned = earn_semi_autonomy(client, images[:20])
    threshold = earned["confidence_threshold"]
    answers = [predict(client, path.read_bytes()) for path in images]
    for answer in answers:
        if answer["confidence"] >= threshold:
            assert answer["status"] == "final" and answer["autonomy_level"] == "semi_autonomous"
            assert answer["finalized_by"] == f"rule:semi_autonomous(confidence>={threshold})"
        else:
            assert answer["status"] == "pending_review" and answer["finalized_by"] is None
    assert any(a["status"] == "final" for a in answers)
    # audit fraction 0 here: nothing final is in the worklist
    listed = {i["prediction"]["id"] for i in client.get("/api/v1/worklist").json()["items"]}
    assert not listed & {a["id"] for a in answers if a["status"] == "final"}

    # Every automatic answer drawn for audit when the fraction is 1.
    assert set_level(client, "gz", "semi_autonomous", audit_fraction=1.0).status_code == 200
    audited = [predict(client, path.read_bytes()) for path in images[:6]]
    finals = [a for a in audited if a["status"] == "final"]
    assert finals and all(a["audit_sample"] for a in finals)
    items = client.get("/api/v1/worklist", params={"level": "semi_autonomous"}).json()["items"]
    assert {i["prediction"]["id"] for i in items if i["reason"] == "audit"} == {a["id"] for a in finals}


def test_the_audit_fraction_is_a_random_share_of_automatic_answers(client: TestClient) -> None:
    images = guangzhou_test_images(60)
    earn_semi_autonomy(client, images[:20])
    # From semi-autonomy, the same evidence (all 20 agreed) supports autonomy.
    assert site_state(client, "gz")["recommendation"]["level"] == "autonomous"
    assert set_level(client, "gz", "autonomous", audit_fraction=0.5).status_code == 200
    # Distinct images of the site: 40 copies of one image would (rightly) look like drift.
    answers = [predict(client, path.read_bytes()) for path in images[20:]]
    assert all(a["status"] == "final" and a["finalized_by"] == "rule:autonomous" for a in answers)
    drawn = sum(a["audit_sample"] for a in answers)
    assert 8 <= drawn <= 32, drawn  # Binomial(40, 0.5): outside this range once in ~10^5 runs


def test_a_drop_in_audited_agreement_falls_back_with_an_alert(client: TestClient) -> None:
    images = guangzhou_test_images(20)
    earn_semi_autonomy(client, images)
    assert set_level(client, "gz", "semi_autonomous", audit_fraction=1.0).status_code == 200
    finals = []
    for path in images:
        answer = predict(client, path.read_bytes())
        if answer["audit_sample"]:
            finals.append(answer)
    assert len(finals) >= 4
    for answer in finals:
        other = "normal" if answer["predicted_label"] == "pneumonia" else "pneumonia"
        client.post(
            f"/api/v1/predictions/{answer['id']}/feedback", json={"verdict": "disagree", "label": other}
        )
        if site_state(client, "gz")["level"] == "supervised":
            break
    state = site_state(client, "gz")
    assert state["level"] == "supervised" and state["changed_by"] == "system"
    assert state["evidence"]["audited"]["high"] is None or state["evidence"]["audited"]["n"] == 0
    alerts = client.get("/api/v1/alerts", params={"task": CXR, "open_only": True}).json()
    assert [a["kind"] for a in alerts] == ["agreement_dropped"] and alerts[0]["site"] == "gz"
    acknowledged = client.post(f"/api/v1/alerts/{alerts[0]['id']}/acknowledge")
    assert acknowledged.status_code == 200 and acknowledged.json()["acknowledged_by"] == "dr.admin"
    assert client.get("/api/v1/alerts", params={"open_only": True}).json() == []
    assert predict(client, images[0].read_bytes())["status"] == "pending_review"


def test_promoting_another_version_falls_back_to_supervision(client: TestClient) -> None:
    earn_semi_autonomy(client, guangzhou_test_images(20))
    factory = app_state(client).session_factory
    with factory.begin() as session:
        base = session.get(ModelVersion, f"{CXR}.v1")
        assert base is not None
        session.add(
            ModelVersion(
                id=f"{CXR}.v1-twin", task=CXR, status="candidate", parent_id=base.id,
                store_path=base.store_path, weights_sha256=base.weights_sha256,
            )
        )  # fmt: skip
    promoted = client.post(f"/api/v1/models/{CXR}.v1-twin/promote", json={"reason": "test promotion"})
    assert promoted.status_code == 200, promoted.text
    state = site_state(client, "gz")
    assert state["level"] == "supervised" and state["evidence"]["verdicts"] == 0  # evidence is per version
    assert [a["kind"] for a in client.get("/api/v1/alerts").json()] == ["new_version"]


def test_input_drift_at_a_site_falls_back_with_an_alert(client: TestClient) -> None:
    images = guangzhou_test_images(30)
    earn_semi_autonomy(client, images[:20])
    steady = site_state(client, "gz")["drift"]
    assert steady["score"] is not None and steady["score"] < steady["threshold"], steady
    assert steady["reference"] == "all"  # the base version never trained on this site's verified cases
    for path in images:
        predict(client, inverted_png(path), name="inverted.png")
        if site_state(client, "gz")["level"] == "supervised":
            break
    state = site_state(client, "gz")
    assert state["level"] == "supervised" and state["drift"]["drifted"] is True
    assert state["recommendation"]["level"] == "supervised" and "drift" in state["recommendation"]["reason"]
    alert = client.get("/api/v1/alerts").json()[0]
    assert alert["kind"] == "input_drift" and alert["details"]["score"] > alert["details"]["threshold"]
