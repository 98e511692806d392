"""Sign-in under abuse (issue #13): password checks outside transactions, failed password changes
throttled and audited, the lock rule, unlocking, pruning, trusted proxies only, and images that do not
outlive a session in the browser."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from imaging_ai import cli
from imaging_ai.api.app import create_app
from imaging_ai.api.security import CSRF_HEADER
from imaging_ai.persistence.database import create_db_engine, create_session_factory
from imaging_ai.persistence.models import AuditEvent, LoginAttempt
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.accounts.authentication import (
    AccountLockedError,
    InvalidCredentialsError,
    LoginPolicy,
    SignInService,
)
from imaging_ai.services.accounts.users import AccountService
from imaging_ai.settings import Settings
from tests import samples
from tests.accounts import PASSWORD, TEST_ACTOR, create_user
from tests.api.conftest import app_state, client_as, sign_in_admin
from tests.live_server import serve

NEW_PASSWORD = "a brand new passphrase"


def login(client: TestClient | httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def audit_events(client: TestClient, action: str) -> list[AuditEvent]:
    with app_state(client).session_factory() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )


def throttled_app(settings: Settings, **update: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=update)), raise_server_exceptions=False)


# --- 1. Argon2 never runs inside a database transaction ----------------------------------------------


class _Timeline:
    """Open transactions on the engine's connections, and the password checks made while any was open."""

    def __init__(self, engine: Engine) -> None:
        self.open = 0
        self.argon2_calls = 0
        self.inside = 0
        self.transactions = 0
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        self.engine = engine

    def _begin(self, _connection: object) -> None:
        self.open += 1
        self.transactions += 1

    def _end(self, _connection: object) -> None:
        self.open = max(0, self.open - 1)

    def profile(self, frame: FrameType, what: str, _arg: object) -> None:
        # The project's only doors to Argon2 (which then runs on their own threads while the caller waits).
        module = str(frame.f_globals.get("__name__", ""))
        if (
            what == "call"
            and module == "imaging_ai.services.accounts.passwords"
            and frame.f_code.co_name in ("hash_password", "verify_password")
        ):
            self.argon2_calls += 1
            self.inside += self.open > 0

    @contextmanager
    def watching(self) -> Iterator[None]:
        sys.setprofile(self.profile)
        try:
            yield
        finally:
            sys.setprofile(None)
            event.remove(self.engine, "begin", self._begin)
            event.remove(self.engine, "commit", self._end)
            event.remove(self.engine, "rollback", self._end)


def test_passwords_are_hashed_and_checked_outside_any_transaction(anonymous_client: TestClient) -> None:
    state = app_state(anonymous_client)
    factory = state.session_factory
    user = create_user(factory, "dr.lee")
    service = SignInService(factory, LoginPolicy())
    engine = factory.kw["bind"]
    timeline = _Timeline(engine)
    with timeline.watching():
        with pytest.raises(InvalidCredentialsError):
            service.sign_in("dr.lee", "not the password", client_address="10.0.0.1")
        with pytest.raises(InvalidCredentialsError):
            service.sign_in("nobody", "not the password", client_address="10.0.0.1")
        signed_in = service.sign_in("dr.lee", PASSWORD, client_address="10.0.0.1")
        with pytest.raises(Exception, match="current password is wrong"):
            service.change_password(signed_in.principal, "not the password", NEW_PASSWORD)
        service.change_password(signed_in.principal, PASSWORD, NEW_PASSWORD)
        # An administrator's create and reset, as the routes call them (the request's session unused yet).
        with transaction(factory) as session:
            created = AccountService(session).create_user(
                TEST_ACTOR, username="dr.new", roles=["clinician"], password=NEW_PASSWORD
            )
        with transaction(factory) as session:
            AccountService(session).set_password(TEST_ACTOR, created.id, "another long passphrase")
    # Three sign-in checks, two password checks and three new hashes.
    assert timeline.argon2_calls >= 8, timeline.argon2_calls
    assert timeline.inside == 0
    assert timeline.transactions >= 10  # each check is wrapped in short transactions before and after
    assert service.sign_in("dr.lee", NEW_PASSWORD, client_address=None).principal.user_id == user.id


# --- 2. Failed password changes are throttled like sign-ins, and audited -----------------------------


def test_wrong_current_passwords_count_as_failures_of_the_account_and_are_audited(settings: Settings) -> None:
    with throttled_app(settings, login_max_failures_per_account=3) as client:
        user = create_user(app_state(client).session_factory, "dr.lee")
        csrf = login(client, "dr.lee").json()["csrf_token"]
        change = {"current_password": "a wrong guess here", "new_password": NEW_PASSWORD}
        for _ in range(2):
            wrong = client.post("/api/v1/auth/password", json=change, headers={CSRF_HEADER: csrf})
            assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "invalid_credentials"
        failed = audit_events(client, "auth.password_change_failed")
        assert [(e.actor, e.target_id, e.details["reason"]) for e in failed] == [
            ("dr.lee", str(user.id), "bad_credentials")
        ] * 2
        # A third failure, from the sign-in form, reaches the account's limit: both doors are shut.
        assert login(client_as(client), "dr.lee", "a wrong guess here").status_code == 401
        right = client.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers={CSRF_HEADER: csrf},
        )
        assert right.status_code == 429 and right.json()["error"]["code"] == "account_locked"
        assert login(client_as(client), "dr.lee").status_code == 429


# --- 4. The lock rule, its audit rows, unlocking and pruning --------------------------------------------


def test_a_lock_lasts_one_window_from_the_locking_failure_and_is_audited_once(settings: Settings) -> None:
    window_s = 4.0
    with throttled_app(
        settings, login_max_failures_per_account=3, login_lockout_minutes=window_s / 60
    ) as client:
        create_user(app_state(client).session_factory, "dr.lee")
        assert login(client, "dr.lee", "wrong password 1").status_code == 401
        time.sleep(1.5)  # the first failure leaves the window well before the last one
        assert [login(client, "dr.lee", f"wrong password {i}").status_code for i in (2, 3)] == [401, 401]
        locking = audit_events(client, "auth.login_failed")[-1]
        locked_until = datetime.fromisoformat(locking.details["locked_until"])
        assert locked_until - locking.occurred_at == pytest.approx(
            timedelta(seconds=window_s), abs=timedelta(seconds=2)
        )

        refused = [login(client, "dr.lee") for _ in range(5)]  # the right password, refused while locked
        assert {r.status_code for r in refused} == {429}
        retry = refused[0].json()["error"]["details"]["retry_after_seconds"]
        assert 1 <= retry <= window_s

        # Past the moment the first failure leaves the window, the lock still holds (it lasts one window
        # from the failure that caused it), and the refused attempts did not extend it.
        wait = (locked_until - datetime.now(UTC)).total_seconds() - 0.8
        assert wait > 0.3, "the machine is too slow for this timing"
        time.sleep(wait)
        assert login(client, "dr.lee").status_code == 429
        time.sleep(max(0.0, (locked_until - datetime.now(UTC)).total_seconds()) + 0.3)
        # Afterwards the name starts from zero: two new failures do not lock it again.
        assert [login(client, "dr.lee", "wrong again!!").status_code for _ in range(2)] == [401, 401]
        assert login(client, "dr.lee").status_code == 200

        refusals = [
            e for e in audit_events(client, "auth.login_failed") if e.details["reason"] == "account_locked"
        ]
        assert len(refusals) == 1  # six refused attempts, one audit row for the lock


def test_an_address_flood_writes_one_refusal_row_not_one_per_attempt(settings: Settings) -> None:
    with throttled_app(settings, login_max_failures_per_address=2) as client:
        assert [login(client, f"guess{i}", "wrong password!").status_code for i in range(2)] == [401, 401]
        assert {login(client, f"spray{i}", "wrong password!").status_code for i in range(6)} == {429}
        reasons = [e.details["reason"] for e in audit_events(client, "auth.login_failed")]
        assert reasons == ["bad_credentials", "bad_credentials", "address_throttled"]


def test_an_administrator_unlocks_an_account_and_it_is_audited(settings: Settings) -> None:
    with throttled_app(settings, login_max_failures_per_account=3) as anonymous:
        admin = sign_in_admin(anonymous)
        factory = app_state(admin).session_factory
        lee = create_user(factory, "dr.lee")
        outsider = client_as(admin)
        assert [login(outsider, "dr.lee", "wrong password!").status_code for _ in range(3)] == [401] * 3
        assert login(outsider, "dr.lee").status_code == 429

        clinician = client_as(admin, create_user(factory, "dr.other"))
        assert clinician.post(f"/api/v1/users/{lee.id}/unlock").status_code == 403
        unlocked = admin.post(f"/api/v1/users/{lee.id}/unlock")
        assert unlocked.status_code == 200 and unlocked.json()["username"] == "dr.lee"
        [event_] = audit_events(admin, "user.unlock")
        assert (event_.actor, event_.target_id, event_.details) == (
            "dr.admin",
            str(lee.id),
            {"username": "dr.lee", "failures_cleared": 3},
        )
        assert login(outsider, "dr.lee").status_code == 200
        missing = admin.post("/api/v1/users/00000000-0000-0000-0000-000000000007/unlock")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_user"


def test_the_cli_unlocks_an_account(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with throttled_app(settings, login_max_failures_per_account=2) as client:
        create_user(app_state(client).session_factory, "dr.lee")
        assert [login(client, "dr.lee", "wrong password!").status_code for _ in range(2)] == [401, 401]
        assert login(client, "dr.lee").status_code == 429
        monkeypatch.setenv("IMAGING_AI_DATABASE_URL", settings.resolved_database_url)
        monkeypatch.setenv("IMAGING_AI_DATA_DIR", str(settings.data_dir))
        assert cli.main(["users", "unlock", "--username", "DR.LEE"]) == 0
        assert login(client, "dr.lee").status_code == 200
        [event_] = audit_events(client, "user.unlock")
        assert event_.actor == "cli" and event_.details["failures_cleared"] == 2


def test_attempts_older_than_two_windows_are_pruned(anonymous_client: TestClient) -> None:
    factory = app_state(anonymous_client).session_factory
    old = datetime.now(UTC) - timedelta(hours=1)  # the window is 15 minutes
    with transaction(factory) as session:
        session.add_all(
            [
                LoginAttempt(username="old.one", client_address="10.0.0.9", succeeded=False, occurred_at=old),
                LoginAttempt(username="old.two", client_address=None, succeeded=True, occurred_at=old),
            ]
        )
    assert login(anonymous_client, "somebody", "wrong password!").status_code == 401
    with factory() as session:
        names = session.scalars(select(LoginAttempt.username)).all()
        assert names == ["somebody"]
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 1


def test_concurrent_guesses_never_exceed_the_accounts_limit(settings: Settings) -> None:
    """Attempts count as failures before their password is checked, so parallel guesses cannot all pass
    the throttle while each is still being checked."""
    limit = 3
    with throttled_app(settings, login_max_failures_per_account=limit) as client:
        factory = app_state(client).session_factory
        create_user(factory, "dr.lee")
        service = SignInService(factory, LoginPolicy(max_failures_per_account=limit))
        outcomes: list[str] = []

        def guess() -> None:
            try:
                service.sign_in("dr.lee", "a wrong guess here", client_address="10.0.0.2")
            except InvalidCredentialsError:
                outcomes.append("checked")
            except AccountLockedError:
                outcomes.append("locked")

        threads = [threading.Thread(target=guess) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["checked"] * limit + ["locked"] * (8 - limit)


# --- 2. Forwarded headers only from configured proxies (the real server, configured as `serve` does) --


@pytest.mark.parametrize("trusted", [False, True], ids=["default", "proxy-configured"])
def test_x_forwarded_for_is_trusted_only_from_configured_proxies(settings: Settings, trusted: bool) -> None:
    configured = settings.model_copy(
        update={
            "login_max_failures_per_address": 3,
            "forwarded_allow_ips": ["127.0.0.1"] if trusted else [],
        }
    )
    with serve(configured) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        answers = [
            client.post(
                "/api/v1/auth/login",
                json={"username": f"guess{i}", "password": "wrong password!"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(5)
        ]
    engine = create_db_engine(configured.resolved_database_url)
    try:
        with create_session_factory(engine)() as session:
            addresses = session.scalars(
                select(AuditEvent.client_address)
                .where(AuditEvent.action == "auth.login_failed")
                .order_by(AuditEvent.id)
            ).all()
    finally:
        engine.dispose()
    if trusted:
        # Each spoofed address is a different client: none reaches its limit.
        assert answers == [401] * 5
        assert addresses == [f"203.0.113.{i}" for i in range(5)]
    else:
        # Rotating the header does not help: every attempt counts against the real peer, loopback.
        assert answers == [401, 401, 401, 429, 429]
        assert set(addresses) == {"127.0.0.1"}


def test_serve_trusts_no_proxy_unless_configured() -> None:
    default = cli.uvicorn_options(Settings(forwarded_allow_ips=[]))
    assert default["proxy_headers"] is False
    configured = cli.uvicorn_options(
        Settings.model_validate({"forwarded_allow_ips": "10.0.0.5, 10.1.0.0/16"})
    )
    assert configured["proxy_headers"] is True and configured["forwarded_allow_ips"] == "10.0.0.5,10.1.0.0/16"


# --- 3. Images are never cached; sign-out clears the browser's cache and storage -----------------------


def test_images_are_sent_no_store_and_sign_out_clears_site_data(client: TestClient) -> None:
    with samples.nih_png().open("rb") as handle:
        upload = client.post(
            "/api/v1/images", files={"file": ("x.png", handle, "image/png")}, data={"site": "nih"}
        )
    assert upload.status_code in (200, 201), upload.text
    image_id = upload.json()["id"]
    for path in (f"/api/v1/images/{image_id}/render?size=256", f"/api/v1/images/{image_id}/file"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store", path
    prediction = client.post(
        "/api/v1/predictions", data={"task": "chest-xray-pneumonia", "image_id": image_id, "site": "nih"}
    )
    assert prediction.status_code in (200, 201), prediction.text
    heatmap = client.get(f"/api/v1/predictions/{prediction.json()['id']}/heatmap")
    assert heatmap.status_code == 200 and heatmap.headers["cache-control"] == "no-store"

    logout = client.post("/api/v1/auth/logout")
    assert logout.status_code == 204
    assert logout.headers["clear-site-data"] == '"cache", "storage"'


def test_a_password_change_also_clears_site_data(anonymous_client: TestClient) -> None:
    create_user(app_state(anonymous_client).session_factory, "dr.lee")
    csrf = login(anonymous_client, "dr.lee").json()["csrf_token"]
    changed = anonymous_client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={CSRF_HEADER: csrf},
    )
    assert changed.status_code == 204 and changed.headers["clear-site-data"] == '"cache", "storage"'
