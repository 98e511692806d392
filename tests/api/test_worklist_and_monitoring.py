"""The worklist's order, the metrics over time, the reliability diagram and Prometheus."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from imaging_ai.persistence.models import Prediction
from imaging_ai.services.cases.worklist import WEIGHTS
from tests.api.conftest import app_state
from tests.api.test_autonomy import CXR, guangzhou_test
from tests.verified_cases import nih_rows, review


def test_the_worklist_puts_the_most_informative_and_riskiest_first(client: TestClient) -> None:
    predictions = [
        client.post(
            "/api/v1/predictions",
            files={"file": ("x.jpeg", path.read_bytes())},
            data={"task": CXR, "site": "gz"},
        ).json()
        for path, _ in guangzhou_test(8)
    ]
    page = client.get("/api/v1/worklist", params={"task": CXR, "site": "gz"}).json()
    assert page["total"] == 8
    priorities = [item["priority"] for item in page["items"]]
    assert priorities == sorted(priorities, reverse=True)
    for item in page["items"]:
        components = item["components"]
        assert abs(item["priority"] - sum(WEIGHTS[k] * v for k, v in components.items())) < 1e-3
        assert components["uncertainty"] == round(item["prediction"]["uncertainty"], 4)
    # The most uncertain case leads while nothing has waited.
    most_uncertain = max(predictions, key=lambda p: p["uncertainty"])
    assert page["items"][0]["prediction"]["id"] == most_uncertain["id"]

    # Waiting counts: the most confident case, left for two days, gains the whole waiting weight and
    # moves up past every case it now outranks.
    least_uncertain = min(predictions, key=lambda p: p["uncertainty"])
    before = next(i for i in page["items"] if i["prediction"]["id"] == least_uncertain["id"])
    with app_state(client).session_factory.begin() as session:
        session.execute(
            update(Prediction)
            .where(Prediction.id == uuid.UUID(least_uncertain["id"]))
            .values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    after_items = client.get("/api/v1/worklist", params={"task": CXR}).json()["items"]
    after = next(i for i in after_items if i["prediction"]["id"] == least_uncertain["id"])
    assert after["components"]["waiting"] == 1.0
    assert abs(after["priority"] - before["priority"] - WEIGHTS["waiting"]) < 0.01
    assert after_items.index(after) < page["items"].index(before)
    assert [i["priority"] for i in after_items] == sorted((i["priority"] for i in after_items), reverse=True)

    # Reviewed cases leave the worklist; filters narrow it.
    client.post(f"/api/v1/predictions/{most_uncertain['id']}/feedback", json={"verdict": "agree"})
    ids = {i["prediction"]["id"] for i in client.get("/api/v1/worklist").json()["items"]}
    assert most_uncertain["id"] not in ids and len(ids) == 7
    assert client.get("/api/v1/worklist", params={"site": "elsewhere"}).json()["total"] == 0
    assert client.get("/api/v1/worklist", params={"level": "autonomous"}).json()["total"] == 0
    assert client.get("/api/v1/worklist", params={"task": "nope"}).status_code == 404


def test_a_sites_disagreement_raises_its_cases_risk(client: TestClient) -> None:
    review(client, nih_rows(12))  # NIH: the shipped model is often wrong there
    for path, _ in guangzhou_test(6):
        reviewed = client.post(
            "/api/v1/predictions",
            files={"file": ("x.jpeg", path.read_bytes())},
            data={"task": CXR, "site": "gz"},
        ).json()
        client.post(f"/api/v1/predictions/{reviewed['id']}/feedback", json={"verdict": "agree"})
    nih = client.post(
        "/api/v1/predictions",
        files={"file": ("x.png", guangzhou_test(7)[6][0].read_bytes())},
        data={"task": CXR, "site": "nih"},
    ).json()
    gz = client.post(
        "/api/v1/predictions",
        files={"file": ("x.png", guangzhou_test(7)[6][0].read_bytes())},
        data={"task": CXR, "site": "gz"},
    ).json()
    items = {i["prediction"]["id"]: i for i in client.get("/api/v1/worklist").json()["items"]}
    # The same image: same uncertainty, but the site where clinicians disagree more is riskier.
    assert (
        items[nih["id"]]["components"]["disagreement_risk"]
        > items[gz["id"]]["components"]["disagreement_risk"]
    )


def test_metrics_over_time_calibration_and_prometheus(client: TestClient) -> None:
    review(client, nih_rows(24))
    metrics = client.get(
        f"/api/v1/tasks/{CXR}/metrics", params={"bucket": "cases", "cases_per_bucket": 10}
    ).json()
    (series,) = metrics["series"]
    assert series["site"] == "nih" and series["model_version"] == f"{CXR}.v1"
    assert [p["predictions"] for p in series["points"]] == [10, 10, 4]
    assert sum(p["verdicts"] for p in series["points"]) == 24
    first = series["points"][0]
    agreement = first["agreement"]
    assert agreement["n"] == 10 and agreement["low"] <= agreement["rate"] <= agreement["high"]
    assert first["sensitivity"] is not None and first["specificity"] is not None
    assert 0 <= first["out_of_distribution_rate"] <= 1
    by_day = client.get(f"/api/v1/tasks/{CXR}/metrics").json()
    assert [p["predictions"] for p in by_day["series"][0]["points"]] == [24]
    day = by_day["series"][0]["points"][0]
    with app_state(client).session_factory() as session:
        flagged = session.scalars(select(Prediction.out_of_distribution)).all()
    assert day["out_of_distribution_rate"] == round(sum(bool(f) for f in flagged) / len(flagged), 4)

    calibration = client.get(f"/api/v1/tasks/{CXR}/calibration").json()
    assert len(calibration["bins"]) == 10 and sum(b["n"] for b in calibration["bins"]) == 24
    assert calibration["model_version"] == f"{CXR}.v1"

    waiting = guangzhou_test(1)[0][0].read_bytes()
    client.post("/api/v1/predictions", files={"file": ("x.jpeg", waiting)}, data={"task": CXR})
    prometheus = client.get("/metrics")
    assert prometheus.status_code == 200 and prometheus.headers["content-type"].startswith("text/plain")
    text = prometheus.text
    assert 'imaging_ai_http_requests_total{method="POST",route="/api/v1/predictions",status="201"}' in text
    assert (
        'imaging_ai_predictions_total{final="false",level="supervised",task="chest-xray-pneumonia"}' in text
    )
    assert 'imaging_ai_worklist_depth{task="chest-xray-pneumonia"} 1.0' in text
    assert "/api/v1/predictions/{prediction_id}/feedback" in text  # templates, never ids
