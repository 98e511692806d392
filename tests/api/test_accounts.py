"""Administering accounts: people and roles, service accounts and the API key lifecycle, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from imaging_ai.persistence.models import ApiKey
from tests import samples
from tests.accounts import bearer
from tests.api.conftest import app_state, client_as

NEW_PASSWORD = "her own long passphrase"


def make_user(client: TestClient, **body: object) -> dict:  # type: ignore[type-arg]
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_admin_creates_a_clinician_who_can_sign_in_and_review(client: TestClient) -> None:
    user = make_user(client, username="Dr.Ng", roles=["clinician"], password=NEW_PASSWORD)
    assert user["username"] == "dr.ng" and user["kind"] == "person"
    anonymous = client_as(client)
    assert (
        anonymous.post("/api/v1/auth/login", json={"username": "dr.ng", "password": NEW_PASSWORD}).status_code
        == 200
    )
    duplicate = client.post(
        "/api/v1/users", json={"username": "dr.ng", "roles": ["clinician"], "password": NEW_PASSWORD}
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "username_taken"
    for body, code in [
        ({"username": "dr.x", "roles": ["clinician"], "password": "short"}, "weak_password"),
        ({"username": "dr.x", "roles": ["clinician"], "password": "dr.x is my password"}, "weak_password"),
        ({"username": "dr.x", "roles": ["clinician"]}, "invalid_account"),
        ({"username": "dr.x", "password": NEW_PASSWORD}, "invalid_account"),
        ({"username": "bad name!", "roles": ["clinician"], "password": NEW_PASSWORD}, "invalid_account"),
        ({"username": "svc", "kind": "service", "roles": ["clinician"]}, "invalid_account"),
        ({"username": "svc", "kind": "service", "password": NEW_PASSWORD}, "invalid_account"),
        ({"username": "dr.x", "roles": ["surgeon"], "password": NEW_PASSWORD}, "validation_error"),
    ]:
        response = client.post("/api/v1/users", json=body)
        assert response.status_code == 422 and response.json()["error"]["code"] == code, (body, response.text)
    names = [u["username"] for u in client.get("/api/v1/users").json()]
    assert "dr.x" not in names and "svc" not in names


def test_role_changes_take_effect_at_once_and_are_audited(client: TestClient) -> None:
    user = make_user(client, username="dr.ng", roles=["clinician"], password=NEW_PASSWORD)
    ng = client_as(client)
    csrf = ng.post("/api/v1/auth/login", json={"username": "dr.ng", "password": NEW_PASSWORD}).json()[
        "csrf_token"
    ]
    ng.headers["X-CSRF-Token"] = csrf
    assert ng.get("/api/v1/users").status_code == 403
    promoted = client.patch(f"/api/v1/users/{user['id']}", json={"roles": ["clinician", "admin"]})
    assert promoted.json()["roles"] == ["admin", "clinician"]
    assert ng.get("/api/v1/users").status_code == 200  # the same session, new rights
    events = client.get("/api/v1/audit", params={"action": "user.roles_change"}).json()["items"]
    assert events[0]["actor"] == "dr.admin" and events[0]["details"]["after"] == ["admin", "clinician"]
    assert events[0]["details"]["before"] == ["clinician"] and events[0]["client_address"] == "testclient"


def test_the_last_active_admin_cannot_be_removed(client: TestClient) -> None:
    me = client.get("/api/v1/auth/me").json()["user"]
    demote = client.patch(f"/api/v1/users/{me['id']}", json={"roles": ["clinician"]})
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_admin"
    deactivate = client.patch(f"/api/v1/users/{me['id']}", json={"is_active": False})
    assert deactivate.status_code == 409
    assert client.get("/api/v1/auth/me").json()["user"]["roles"] == ["admin", "clinician"]
    make_user(client, username="it.second", roles=["admin"], password=NEW_PASSWORD)
    assert client.patch(f"/api/v1/users/{me['id']}", json={"roles": ["clinician"]}).status_code == 200


def test_api_key_lifecycle(client: TestClient) -> None:
    service = make_user(client, username="pacs-gateway", kind="service", display_name="PACS gateway")
    person = client.get("/api/v1/auth/me").json()["user"]
    refused = client.post(f"/api/v1/users/{person['id']}/api-keys", json={"name": "mine", "scopes": ["read"]})
    assert refused.status_code == 422  # people sign in; only service accounts hold keys

    created = client.post(
        f"/api/v1/users/{service['id']}/api-keys", json={"name": "ward 3", "scopes": ["predict"]}
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith(f"iai_{created.json()['prefix']}_")
    listed = client.get("/api/v1/api-keys", params={"user_id": service["id"]}).json()
    assert [k["prefix"] for k in listed] == [created.json()["prefix"]]
    assert "key" not in listed[0] and key not in client.get("/api/v1/api-keys").text

    machine = client_as(client, headers=bearer(key))
    upload = machine.post(
        "/api/v1/predictions",
        files={"file": ("x.png", samples.nih_png().read_bytes())},
        data={"task": "chest-xray-pneumonia"},
    )
    assert upload.status_code == 201, upload.text
    assert machine.get("/api/v1/tasks").status_code == 403  # scope predict only, not read
    assert machine.get("/api/v1/auth/me").json()["credential"] == "api_key"
    assert client.get("/api/v1/api-keys").json()[0]["last_used_at"] is not None

    revoked = client.post(f"/api/v1/api-keys/{created.json()['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    after = machine.post("/api/v1/images", files={"file": ("x.png", samples.nih_png().read_bytes())})
    assert after.status_code == 401 and after.json()["error"]["code"] == "invalid_api_key"

    second = client.post(
        f"/api/v1/users/{service['id']}/api-keys", json={"name": "short-lived", "scopes": ["read"]}
    ).json()
    with app_state(client).session_factory.begin() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == second["prefix"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert client_as(client, headers=bearer(second["key"])).get("/api/v1/tasks").status_code == 401
    tampered = second["key"][:-4] + "AAAA"
    assert client_as(client, headers=bearer(tampered)).get("/api/v1/tasks").status_code == 401

    events = client.get("/api/v1/audit", params={"target_id": service["id"]}).json()["items"]
    assert sorted(e["action"] for e in events) == [
        "api_key.create",
        "api_key.create",
        "api_key.revoke",
        "user.create",
    ]
    assert all(key not in str(e) and second["key"] not in str(e) for e in events)


def test_the_audit_log_pages_and_filters(client: TestClient) -> None:
    for index in range(5):
        make_user(client, username=f"dr.{index}", roles=["clinician"], password=NEW_PASSWORD)
    page = client.get("/api/v1/audit", params={"action": "user.create", "limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and page["limit"] == 2 and len(page["items"]) == 2
    assert [e["details"]["username"] for e in page["items"]] == ["dr.3", "dr.2"]  # newest first
    by_prefix = client.get("/api/v1/audit", params={"action": "user."}).json()
    assert by_prefix["total"] == 5
    assert client.get("/api/v1/audit", params={"actor": "nobody"}).json()["total"] == 0
    since = client.get("/api/v1/audit", params={"since": "2000-01-01T00:00:00Z"}).json()["total"]
    until = client.get("/api/v1/audit", params={"until": "2000-01-01T00:00:00Z"}).json()["total"]
    assert since >= 5 and until == 0
    naive = client.get("/api/v1/audit", params={"since": "2000-01-01T00:00:00"})
    assert naive.status_code == 422  # a time without a zone is ambiguous


def test_every_verdict_is_audited_with_who_and_from_where(client: TestClient) -> None:
    prediction = client.post(
        "/api/v1/predictions",
        files={"file": ("x.png", samples.nih_png().read_bytes())},
        data={"task": "chest-xray-pneumonia"},
    ).json()
    client.post(
        f"/api/v1/predictions/{prediction['id']}/feedback", json={"verdict": "agree", "notes": "Mr Smith"}
    )
    events = client.get("/api/v1/audit", params={"action": "feedback.verdict"}).json()["items"]
    assert len(events) == 1
    event = events[0]
    assert event["actor"] == "dr.admin" and event["target_id"] == prediction["id"]
    assert event["client_address"] == "testclient" and event["details"]["verdict"] == "agree"
    assert "Mr Smith" not in str(event)  # notes are free text: never copied into the audit log
