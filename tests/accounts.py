"""Accounts for tests: users, signed-in sessions and API keys, made with the project's own code.

Argon2 is slow on purpose (~0.1 s a hash), so test users share one precomputed password hash, and
fixtures that only need *some* signed-in clinician get their session row directly; the sign-in
route itself (passwords, throttling, cookies) is tested in tests/api/test_auth.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.api.security import CSRF_HEADER, SESSION_COOKIE
from imaging_ai.persistence.auth_sessions import AuthSessionRepository
from imaging_ai.persistence.database import create_db_engine, create_session_factory
from imaging_ai.persistence.models import AuthSession, User
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.persistence.users import UserRepository
from imaging_ai.services.accounts.authentication import token_hash
from imaging_ai.services.accounts.identity import SystemActor
from imaging_ai.services.accounts.users import AccountService, passwords
from imaging_ai.settings import Settings

PASSWORD = "a long test passphrase"
TEST_ACTOR = SystemActor("test-setup")


@cache
def password_hash() -> str:
    return passwords.hash_password(PASSWORD)


def create_user(
    session_factory: sessionmaker[Session],
    username: str,
    roles: tuple[str, ...] = ("clinician",),
    *,
    kind: str = "person",
) -> User:
    with transaction(session_factory) as session:
        users = UserRepository(session)
        user = users.add(
            User(
                username=username,
                display_name=username.title(),
                kind=kind,
                password_hash=password_hash() if kind == "person" else None,
            )
        )
        users.set_roles(user, roles)
        session.expunge(user)
    return user


def open_session(session_factory: sessionmaker[Session], user: User) -> tuple[str, str]:
    """A signed-in session for the user: (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with transaction(session_factory) as session:
        AuthSessionRepository(session).add(
            AuthSession(
                token_hash=token_hash(token),
                csrf_token=csrf,
                user_id=user.id,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    return token, csrf


def sign_in_client(client: TestClient, session_factory: sessionmaker[Session], user: User) -> TestClient:
    token, csrf = open_session(session_factory, user)
    client.cookies.set(SESSION_COOKIE, token)
    client.headers[CSRF_HEADER] = csrf
    return client


def create_api_key(
    session_factory: sessionmaker[Session], service_account: str, scopes: tuple[str, ...]
) -> str:
    with transaction(session_factory) as session:
        accounts = AccountService(session)
        try:
            user = accounts.get_user_by_name(service_account)
        except Exception:
            user = accounts.create_user(TEST_ACTOR, username=service_account, kind="service")
        return accounts.create_api_key(TEST_ACTOR, user.id, name="test", scopes=list(scopes)).key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on the settings' database, for setting up accounts beside a live server."""
    engine = create_db_engine(settings.resolved_database_url)
    try:
        yield create_session_factory(engine)
    finally:
        engine.dispose()


def session_headers(session_factory: sessionmaker[Session], user: User) -> dict[str, str]:
    """Headers of a signed-in browser session (cookie and CSRF token), for a plain HTTP client."""
    token, csrf = open_session(session_factory, user)
    return {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: csrf}
