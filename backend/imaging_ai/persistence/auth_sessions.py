"""Queries on browser sessions and the sign-in attempts that throttle them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import AuthSession, LoginAttempt


class AuthSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_token_hash(self, token_hash: str) -> AuthSession | None:
        return self.session.scalars(select(AuthSession).where(AuthSession.token_hash == token_hash)).first()

    def add(self, auth_session: AuthSession) -> AuthSession:
        self.session.add(auth_session)
        self.session.flush()
        return auth_session

    def revoke_all_of(self, user_id: uuid.UUID, now: datetime) -> None:
        self.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )


class LoginAttemptRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def serialise_username(self, username: str) -> None:
        """Makes concurrent attempts on one name take turns until the transaction ends.

        SQLite's transactions already hold the database's write lock; on PostgreSQL a transaction-scoped
        advisory lock keyed by the name stops two concurrent attempts from both seeing the name under
        its limit, so a lock-out admits exactly its number of guesses.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(func.hashtext(username))))

    def add(self, username: str, client_address: str | None, *, succeeded: bool) -> LoginAttempt:
        attempt = LoginAttempt(username=username, client_address=client_address, succeeded=succeeded)
        self.session.add(attempt)
        self.session.flush()
        return attempt

    def mark_succeeded(self, attempt_id: int) -> None:
        self.session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True))

    def last_success_of_username(self, username: str) -> datetime | None:
        return self.session.scalar(
            select(func.max(LoginAttempt.occurred_at)).where(
                LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
            )
        )

    def failures_of_username(self, username: str, since: datetime, until: datetime | None = None) -> int:
        """Failures in [since, until] that came after the name's last success (a success clears them)."""
        last_success = self.last_success_of_username(username)
        start = max(since, last_success) if last_success is not None else since
        return self._count(LoginAttempt.username == username, start, until)

    def latest_failure_of_username(self, username: str, since: datetime) -> datetime | None:
        return self._latest(LoginAttempt.username == username, since)

    def failures_from_address(self, client_address: str, since: datetime) -> int:
        return self._count(LoginAttempt.client_address == client_address, since)

    def latest_failure_from_address(self, client_address: str, since: datetime) -> datetime | None:
        return self._latest(LoginAttempt.client_address == client_address, since)

    def forget_failures_of_username(self, username: str) -> int:
        """Deletes the name's failures (an administrator's unlock); returns how many there were."""
        result = self.session.execute(
            delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.succeeded.is_(False))
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def prune(self, before: datetime) -> int:
        """Deletes attempts older than `before`; the table then holds only what the throttle still reads."""
        result = self.session.execute(delete(LoginAttempt).where(LoginAttempt.occurred_at < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def _latest(self, condition: ColumnElement[bool], since: datetime) -> datetime | None:
        return self.session.scalar(
            select(func.max(LoginAttempt.occurred_at)).where(
                condition, LoginAttempt.succeeded.is_(False), LoginAttempt.occurred_at >= since
            )
        )

    def _count(self, condition: ColumnElement[bool], since: datetime, until: datetime | None = None) -> int:
        query = (
            select(func.count())
            .select_from(LoginAttempt)
            .where(condition, LoginAttempt.succeeded.is_(False), LoginAttempt.occurred_at >= since)
        )
        if until is not None:
            query = query.where(LoginAttempt.occurred_at <= until)
        return int(self.session.scalar(query) or 0)
