"""Signing in and out: cookies, CSRF, throttling and lock-out, sessions that end, passwords."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from imaging_ai.api.app import create_app
from imaging_ai.api.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from imaging_ai.persistence.models import AuditEvent, AuthSession
from imaging_ai.settings import Settings
from tests.accounts import PASSWORD, create_user
from tests.api.conftest import app_state, client_as


def login(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def audit_actions(client: TestClient) -> list[tuple[str, str, str | None]]:
    with app_state(client).session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(e.actor, e.action, e.details.get("reason")) for e in events]


def test_sign_in_sets_a_session_cookie_and_a_csrf_token(anonymous_client: TestClient) -> None:
    client = anonymous_client
    create_user(app_state(client).session_factory, "dr.lee")
    response = login(client, "Dr.Lee ")  # names are case- and space-insensitive
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == "dr.lee" and body["user"]["roles"] == ["clinician"]
    assert body["permissions"] == ["predict", "read", "review"]
    assert body["credential"] == "session" and body["csrf_token"]
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    csrf_cookie = next(c for c in cookies if c.startswith(f"{CSRF_COOKIE}="))
    assert "httponly" in session_cookie.lower() and "samesite=strict" in session_cookie.lower()
    assert "httponly" not in csrf_cookie.lower()  # the web app reads it
    assert "secure" not in session_cookie.lower()  # these tests run with cookie_secure=False

    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["csrf_token"] == body["csrf_token"]
    # State changes need the CSRF header; reads do not.
    post_url = "/api/v1/training-jobs"  # a state change a clinician may not make: CSRF is checked first
    no_header = client.post(post_url, json={})
    assert no_header.status_code == 403 and no_header.json()["error"]["code"] == "csrf_failed"
    wrong = client.post(post_url, json={}, headers={CSRF_HEADER: "forged"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "csrf_failed"
    right = client.post(post_url, json={}, headers={CSRF_HEADER: body["csrf_token"]})
    assert right.status_code == 403 and right.json()["error"]["code"] == "forbidden"  # a clinician
    assert ("dr.lee", "auth.login", None) in audit_actions(client)


def test_the_session_cookie_is_secure_unless_configured_for_local_http(settings: Settings) -> None:
    secure = settings.model_copy(update={"cookie_secure": True})
    with TestClient(create_app(secure), base_url="https://testserver") as client:
        create_user(app_state(client).session_factory, "dr.lee")
        response = login(client, "dr.lee")
        assert response.status_code == 200
        assert all("secure" in c.lower() for c in response.headers.get_list("set-cookie"))
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_wrong_password_unknown_user_and_service_account_look_the_same(anonymous_client: TestClient) -> None:
    client = anonymous_client
    factory = app_state(client).session_factory
    create_user(factory, "dr.lee")
    create_user(factory, "pacs", (), kind="service")
    answers = [
        login(client, "dr.lee", "not the password"),
        login(client, "nobody.here"),
        login(client, "pacs", "anything at all"),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({(a.json()["error"]["code"], a.json()["error"]["message"]) for a in answers}) == 1
    assert SESSION_COOKIE not in client.cookies
    reasons = [r for actor, action, r in audit_actions(client) if action == "auth.login_failed"]
    assert reasons == ["bad_credentials"] * 3  # a service account has no password to match


def test_an_account_locks_after_repeated_failures_even_for_unknown_names(settings: Settings) -> None:
    throttled = settings.model_copy(
        update={"login_max_failures_per_account": 3, "login_lockout_minutes": 0.05}
    )
    with TestClient(create_app(throttled), raise_server_exceptions=False) as client:
        create_user(app_state(client).session_factory, "dr.lee")
        for name in ("dr.lee", "ghost"):
            assert [login(client, name, "wrong password!").status_code for _ in range(3)] == [401] * 3
        locked = login(client, "dr.lee")  # the right password, but locked
        ghost = login(client, "ghost")
        assert locked.status_code == ghost.status_code == 429
        assert locked.json()["error"]["code"] == ghost.json()["error"]["code"] == "account_locked"
        assert locked.json()["error"]["message"] == ghost.json()["error"]["message"]
        time.sleep(3.2)  # the 3-second window passes
        assert login(client, "dr.lee").status_code == 200
        # A success clears the count: one new failure does not lock again.
        assert login(client, "dr.lee", "wrong password!").status_code == 401
        assert login(client, "dr.lee").status_code == 200


def test_one_address_is_throttled_across_names(settings: Settings) -> None:
    throttled = settings.model_copy(update={"login_max_failures_per_address": 4})
    with TestClient(create_app(throttled), raise_server_exceptions=False) as client:
        create_user(app_state(client).session_factory, "dr.lee")
        assert [login(client, f"guess{i}", "wrong password!").status_code for i in range(4)] == [401] * 4
        blocked = login(client, "dr.lee")
        assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "too_many_attempts"
        assert ("dr.lee", "auth.login_failed", "address_throttled") in audit_actions(client)


def test_sign_out_ends_the_session_for_good(anonymous_client: TestClient) -> None:
    client = anonymous_client
    create_user(app_state(client).session_factory, "dr.lee")
    csrf = login(client, "dr.lee").json()["csrf_token"]
    token = client.cookies[SESSION_COOKIE]
    assert client.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf}).status_code == 204
    assert SESSION_COOKIE not in client.cookies
    replay = client_as(client)
    replay.cookies.set(SESSION_COOKIE, token)  # a stolen cookie is worthless after sign-out
    answer = replay.get("/api/v1/auth/me")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "session_expired"


def test_an_expired_session_or_a_deactivated_user_is_signed_out(client: TestClient) -> None:
    factory = app_state(client).session_factory
    nurse = create_user(factory, "dr.nurse")
    nurse_client = client_as(client, nurse)
    assert nurse_client.get("/api/v1/tasks").status_code == 200
    response = client.patch(f"/api/v1/users/{nurse.id}", json={"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert nurse_client.get("/api/v1/tasks").status_code == 401
    assert login(client_as(client), "dr.nurse").status_code == 401

    other = client_as(client, create_user(factory, "dr.other"))
    with factory.begin() as session:
        session.execute(update(AuthSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert other.get("/api/v1/tasks").status_code == 401


def test_changing_ones_password_needs_the_current_one_and_ends_the_sessions(
    anonymous_client: TestClient,
) -> None:
    client = anonymous_client
    create_user(app_state(client).session_factory, "dr.lee")
    csrf = login(client, "dr.lee").json()["csrf_token"]
    headers = {CSRF_HEADER: csrf}
    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
        headers=headers,
    )
    assert wrong.status_code == 403
    weak = client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    assert weak.status_code == 422
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=headers,
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401
    assert login(client, "dr.lee").status_code == 401
    assert login(client, "dr.lee", "a brand new passphrase").status_code == 200


def test_a_password_never_appears_in_an_answer_or_the_audit_log(anonymous_client: TestClient) -> None:
    client = anonymous_client
    secret = "hunter2 but much longer"
    response = client.post("/api/v1/auth/login", json={"username": "dr.lee", "password": secret, "x": 1})
    assert response.status_code == 422 and secret not in response.text
    login(client, "dr.lee", secret)
    assert secret not in repr(audit_actions(client))
