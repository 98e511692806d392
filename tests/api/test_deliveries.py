"""Delivery state of results sent back to the PACS: readable by whoever reads predictions, a failed
delivery retried by an administrator only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from imaging_ai.persistence.models import ResultDelivery
from imaging_ai.persistence.unit_of_work import transaction
from tests.accounts import bearer, create_api_key, create_user
from tests.api.conftest import app_state, client_as
from tests.results.conftest import add_case


def _delivery(client: TestClient, status: str, destination: str) -> tuple[str, str]:
    factory = app_state(client).session_factory
    prediction_id = add_case(factory)
    delivery_id = uuid.uuid4()
    with transaction(factory) as session:
        session.add(
            ResultDelivery(
                id=delivery_id,
                prediction_id=prediction_id,
                destination=destination,
                status=status,
                attempts=8 if status == "failed" else 0,
                next_attempt_at=datetime.now(UTC),
                last_error="could not reach http://pacs:8042/dicom-web (ConnectError)"
                if status == "failed"
                else None,
                sent_sop_instance_uids=["2.25.1", "2.25.2"] if status == "sent" else [],
                sent_final=True if status == "sent" else None,
            )
        )
    return str(prediction_id), str(delivery_id)


def test_a_predictions_deliveries_and_the_filtered_list(client: TestClient) -> None:
    prediction_id, delivery_id = _delivery(client, "failed", "http://user:pw@pacs:8042/dicom-web?x=1")
    _delivery(client, "sent", "http://pacs:8042/dicom-web")

    response = client.get(f"/api/v1/predictions/{prediction_id}/deliveries")
    assert response.status_code == 200, response.text
    [item] = response.json()
    assert item["id"] == delivery_id and item["status"] == "failed" and item["attempts"] == 8
    assert item["destination"] == "http://pacs:8042/dicom-web"  # no credentials, no query
    assert "ConnectError" in item["last_error"]

    page = client.get("/api/v1/result-deliveries", params={"status": "sent"}).json()
    assert page["total"] == 1 and page["items"][0]["sent_sop_instance_uids"] == ["2.25.1", "2.25.2"]
    assert client.get("/api/v1/result-deliveries").json()["total"] == 2
    only = client.get("/api/v1/result-deliveries", params={"prediction_id": prediction_id}).json()
    assert [i["id"] for i in only["items"]] == [delivery_id]
    assert client.get("/api/v1/result-deliveries", params={"status": "lost"}).status_code == 422
    assert client.get(f"/api/v1/predictions/{uuid.uuid4()}/deliveries").status_code == 404


def test_readers_read_and_only_administrators_retry(client: TestClient) -> None:
    prediction_id, delivery_id = _delivery(client, "failed", "http://pacs:8042/dicom-web")
    factory = app_state(client).session_factory
    clinician = client_as(client, create_user(factory, "dr.reader", ("clinician",)))
    service = client_as(client, headers=bearer(create_api_key(factory, "pacs-gateway", ("read",))))
    anonymous = client_as(client)

    for reader in (clinician, service):
        assert reader.get(f"/api/v1/predictions/{prediction_id}/deliveries").status_code == 200
        assert reader.get("/api/v1/result-deliveries").status_code == 200
    assert anonymous.get("/api/v1/result-deliveries").status_code == 401
    assert clinician.post(f"/api/v1/result-deliveries/{delivery_id}/retry").status_code == 403
    assert service.post(f"/api/v1/result-deliveries/{delivery_id}/retry").status_code == 403

    retried = client.post(f"/api/v1/result-deliveries/{delivery_id}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    again = client.post(f"/api/v1/result-deliveries/{delivery_id}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "delivery_not_failed"
    assert client.post(f"/api/v1/result-deliveries/{uuid.uuid4()}/retry").status_code == 404
    events = client.get("/api/v1/audit", params={"action": "result.delivery_retry"}).json()
    assert len(events["items"] if isinstance(events, dict) else events) == 1


def test_the_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (
        ("/api/v1/result-deliveries", "get"),
        ("/api/v1/predictions/{prediction_id}/deliveries", "get"),
        ("/api/v1/result-deliveries/{delivery_id}/retry", "post"),
    ):
        operation = paths[path][method]
        assert operation["tags"] == ["deliveries"] and operation["description"]
