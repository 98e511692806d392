"""Queries on browser sessions and the sign-in attempts that throttle them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
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

    def add(self, username: str, client_address: str | None, *, succeeded: bool) -> None:
        self.session.add(LoginAttempt(username=username, client_address=client_address, succeeded=succeeded))
        self.session.flush()

    def failures_of_username(self, username: str, since: datetime) -> int:
        """Failures since `since` that came after the name's last success (a success clears them)."""
        last_success = self.session.scalar(
            select(func.max(LoginAttempt.occurred_at)).where(
                LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
            )
        )
        start = max(since, last_success) if last_success is not None else since
        return self._count(LoginAttempt.username == username, start)

    def failures_from_address(self, client_address: str, since: datetime) -> int:
        return self._count(LoginAttempt.client_address == client_address, since)

    def oldest_failure_of_username(self, username: str, since: datetime) -> datetime | None:
        return self.session.scalar(
            select(func.min(LoginAttempt.occurred_at)).where(
                LoginAttempt.username == username,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.occurred_at >= since,
            )
        )

    def _count(self, condition: ColumnElement[bool], since: datetime) -> int:
        query = (
            select(func.count())
            .select_from(LoginAttempt)
            .where(condition, LoginAttempt.succeeded.is_(False), LoginAttempt.occurred_at >= since)
        )
        return int(self.session.scalar(query) or 0)
