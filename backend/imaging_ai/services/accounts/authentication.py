"""Signing in and out, and turning a session cookie or an API key into a principal.

Throttling: failed sign-ins (and failed password changes) are counted per typed user name and per
client address over a window. A name with too many recent failures is locked whether or not such a
user exists, so the lock reveals nothing about which accounts exist. Attempts are recorded in their
own short transactions, apart from the password check itself (see `SignInService`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.errors import DomainError
from imaging_ai.persistence.api_keys import ApiKeyRepository
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.auth_sessions import AuthSessionRepository, LoginAttemptRepository
from imaging_ai.persistence.models import ApiKey, AuditEvent, AuthSession, User
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.persistence.users import UserRepository
from imaging_ai.services.accounts import passwords
from imaging_ai.services.accounts.identity import (
    Principal,
    SystemActor,
    permissions_of_roles,
    permissions_of_scopes,
)
from imaging_ai.vocabulary import UserKind

API_KEY_PREFIX = "iai"
# Writing `last_used_at` on every call would turn every read into a write; once a minute is enough
# to tell an integrator which keys are in use.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class InvalidCredentialsError(DomainError):
    status_code = 401
    code = "invalid_credentials"


class AccountLockedError(DomainError):
    status_code = 429
    code = "account_locked"


class TooManyAttemptsError(DomainError):
    status_code = 429
    code = "too_many_attempts"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    session_token: str
    """The cookie's value; only its hash is stored."""
    expires_at: datetime


def token_hash(token: str) -> str:
    # Tokens and keys are 256-bit random values, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A new key and its public prefix: `iai_<prefix>_<secret>`."""
    prefix = secrets.token_hex(6)
    return f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def normalise_username(username: str) -> str:
    return username.strip().lower()[:64]


def principal_of_user(
    user: User,
    *,
    client_address: str | None,
    session: AuthSession | None = None,
    api_key: ApiKey | None = None,
) -> Principal:
    """A person acts with their roles' permissions; an API key with exactly its scopes."""
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        kind=UserKind.service if user.kind == UserKind.service else UserKind.person,
        roles=() if api_key else tuple(user.role_names),
        permissions=permissions_of_scopes(api_key.scopes)
        if api_key
        else permissions_of_roles(user.role_names),
        credential="api_key" if api_key else "session",
        client_address=client_address,
        session_id=session.id if session else None,
        csrf_token=session.csrf_token if session else None,
        session_expires_at=session.expires_at if session else None,
        api_key_id=api_key.id if api_key else None,
    )


@dataclass(frozen=True)
class _Credentials:
    """What the slow password check needs, read in a short transaction and used after it has ended."""

    user_id: uuid.UUID
    password_hash: str | None
    is_active: bool
    kind: str


@dataclass(frozen=True)
class _Attempt:
    """An attempt admitted by the throttle, recorded as a failure until its password proves right."""

    attempt_id: int
    credentials: _Credentials | None


def _unchanged(user: User, credentials: _Credentials | None) -> bool:
    """The account's password is still the one checked outside the transaction: a password changed (or
    reset) meanwhile wins over a check against the old one."""
    return credentials is not None and user.password_hash == credentials.password_hash


class SignInService:
    """Password checks (sign-in, changing one's own password) behind the throttle.

    Each check runs in three steps, so that Argon2 (about 0.1 s of CPU and 64 MiB) never runs inside a
    database transaction, where on SQLite it would hold the write lock that every request needs:

    1. a short transaction: refuse a locked name or a throttled address; otherwise record the attempt
       *as a failure* (so concurrent guesses count at once, and a crash mid-check counts against the
       guesser) and read the stored hash;
    2. no transaction: verify the password (and hash a new one);
    3. a short transaction: write the outcome (a success turns the attempt into a success).

    Lock rule: a name is locked when a failure brings its failures over the window (since its last
    success) to `max_failures_per_account`; the lock lasts one window from that failure. Refused
    attempts are not recorded as failures, so they never extend a lock, and when a lock ends every
    failure that caused it is older than the window: the name starts again from zero. An address is
    refused while its failures over the window reach `max_failures_per_address` (a sliding window).
    Only the first refused attempt of each lock (or throttling) is audited, so a flood of refused
    attempts writes a bounded number of audit rows. Attempts older than two windows are pruned on each
    attempt (the lock rule looks back one window from a failure that is itself up to a window old).
    """

    def __init__(self, session_factory: sessionmaker[Session], policy: LoginPolicy | None = None) -> None:
        self.session_factory = session_factory
        self.policy = policy or LoginPolicy()

    # --- sign-in -------------------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, *, client_address: str | None) -> SignedIn:
        name = normalise_username(username)
        attempt = self._begin(
            name, client_address, "auth.login_failed", lambda session: self._read(session, name)
        )
        credentials = attempt.credentials
        # Always verify (against a dummy hash when there is no user) so timing reveals nothing.
        password_ok = passwords.verify_password(credentials.password_hash if credentials else None, password)
        new_hash = None
        stored = credentials.password_hash if credentials else None
        if password_ok and stored and passwords.needs_rehash(stored):
            new_hash = passwords.hash_password(password)
        with transaction(self.session_factory) as session:
            signed_in = self._finish_sign_in(session, name, client_address, attempt, password_ok, new_hash)
        if signed_in is None:
            raise InvalidCredentialsError("The user name or password is wrong.")
        return signed_in

    def _finish_sign_in(
        self,
        session: Session,
        name: str,
        client_address: str | None,
        attempt: _Attempt,
        password_ok: bool,
        new_hash: str | None,
    ) -> SignedIn | None:
        now = datetime.now(UTC)
        credentials = attempt.credentials
        user = UserRepository(session).get(credentials.user_id) if credentials else None
        if user is None or not password_ok or not _unchanged(user, credentials):
            self._record_failure(session, name, client_address, "auth.login_failed", "bad_credentials", None)
            return None
        if not user.is_active or user.kind != "person":
            reason = "inactive" if not user.is_active else "service_account"
            self._record_failure(session, name, client_address, "auth.login_failed", reason, user)
            return None
        attempts = LoginAttemptRepository(session)
        attempts.mark_succeeded(attempt.attempt_id)
        if new_hash is not None:
            user.password_hash = new_hash
        user.last_login_at = now
        token = secrets.token_urlsafe(32)
        auth_session = AuthSessionRepository(session).add(
            AuthSession(
                token_hash=token_hash(token),
                csrf_token=secrets.token_urlsafe(32),
                user_id=user.id,
                client_address=client_address,
                created_at=now,
                expires_at=now + self.policy.session_lifetime,
            )
        )
        principal = principal_of_user(user, client_address=client_address, session=auth_session)
        record_audit_event(session, principal, "auth.login", target_type="user", target_id=str(user.id))
        return SignedIn(principal, token, auth_session.expires_at)

    # --- changing one's own password -----------------------------------------------------------------

    def change_password(self, principal: Principal, current_password: str, new_password: str) -> None:
        """Needs the current password; a wrong one counts as a failed sign-in of the account and is
        audited (`auth.password_change_failed`). Ends every session of the user on success."""
        if principal.user_id is None or principal.kind != "person":
            raise DomainError(
                "Only a signed-in person has a password to change.", code="invalid_account", status_code=422
            )
        user_id = principal.user_id
        # The new password's policy first: a refused new password is no guess at the current one.
        passwords.check_policy(new_password, username=principal.username)
        name = principal.username
        attempt = self._begin(
            name,
            principal.client_address,
            "auth.password_change_failed",
            lambda session: self._read_by_id(session, user_id),
        )
        credentials = attempt.credentials
        ok = passwords.verify_password(credentials.password_hash if credentials else None, current_password)
        new_hash = passwords.hash_password(new_password) if ok else None
        with transaction(self.session_factory) as session:
            user = UserRepository(session).get(user_id)
            if user is None or new_hash is None or not _unchanged(user, credentials):
                self._record_failure(
                    session,
                    name,
                    principal.client_address,
                    "auth.password_change_failed",
                    "bad_credentials",
                    user,
                )
                changed = False
            else:
                now = datetime.now(UTC)
                LoginAttemptRepository(session).mark_succeeded(attempt.attempt_id)
                user.password_hash = new_hash
                user.password_changed_at = now
                AuthSessionRepository(session).revoke_all_of(user.id, now)
                record_audit_event(
                    session,
                    principal,
                    "user.password_change",
                    target_type="user",
                    target_id=str(user.id),
                    details={"username": user.username},
                )
                changed = True
        if not changed:
            raise DomainError("The current password is wrong.", code="invalid_credentials", status_code=403)

    # --- the throttle --------------------------------------------------------------------------------

    def _begin(
        self,
        name: str,
        client_address: str | None,
        action: str,
        read: Callable[[Session], _Credentials | None],
    ) -> _Attempt:
        """Step 1: refuses (raising after its audit event is committed) or records the attempt."""
        refusal: DomainError | None = None
        attempt: _Attempt | None = None
        with transaction(self.session_factory) as session:
            now = datetime.now(UTC)
            attempts = LoginAttemptRepository(session)
            attempts.serialise_username(name)
            attempts.prune(now - 2 * self.policy.window)
            refusal = self._refusal(session, name, client_address, action, now)
            if refusal is None:
                recorded = attempts.add(name, client_address, succeeded=False)
                attempt = _Attempt(recorded.id, read(session))
        if refusal is not None or attempt is None:
            raise refusal or RuntimeError("no attempt recorded")
        return attempt

    def _refusal(
        self, session: Session, name: str, client_address: str | None, action: str, now: datetime
    ) -> DomainError | None:
        attempts = LoginAttemptRepository(session)
        locked_since = self._locked_since(attempts, name, now)
        if locked_since is not None:
            retry = locked_since + self.policy.window - now
            self._audit_first_refusal(
                session,
                name,
                client_address,
                action,
                "account_locked",
                locked_since,
                AuditEvent.actor == name,
            )
            return AccountLockedError(
                "This account is locked after repeated failed sign-ins; try again within "
                f"{_minutes(retry)} minutes.",
                details={"retry_after_seconds": max(1, int(retry.total_seconds()))},
            )
        if client_address is not None:
            since = now - self.policy.window
            if attempts.failures_from_address(client_address, since) >= self.policy.max_failures_per_address:
                latest = attempts.latest_failure_from_address(client_address, since) or now
                self._audit_first_refusal(
                    session,
                    name,
                    client_address,
                    action,
                    "address_throttled",
                    latest,
                    AuditEvent.client_address == client_address,
                )
                return TooManyAttemptsError(
                    "Too many failed sign-ins from this address; try again within "
                    f"{_minutes(self.policy.window)} minutes.",
                    details={"retry_after_seconds": int(self.policy.window.total_seconds())},
                )
        return None

    def _locked_since(self, attempts: LoginAttemptRepository, name: str, now: datetime) -> datetime | None:
        """The failure that locked the name, while its lock lasts (see the class's lock rule)."""
        window = self.policy.window
        last_success = attempts.last_success_of_username(name)
        since = now - window if last_success is None else max(now - window, last_success)
        latest = attempts.latest_failure_of_username(name, since)
        if latest is None:
            return None
        failures = attempts.failures_of_username(name, latest - window, latest)
        return latest if failures >= self.policy.max_failures_per_account else None

    def _audit_first_refusal(
        self,
        session: Session,
        name: str,
        client_address: str | None,
        action: str,
        reason: str,
        since: datetime,
        scope: ColumnElement[bool],
    ) -> None:
        """Audits a refusal unless one of this lock (or throttling) is already in the log."""
        earlier = session.scalars(
            select(AuditEvent.details)
            .where(
                scope,
                AuditEvent.action.in_(_REFUSAL_ACTIONS),
                AuditEvent.occurred_at >= since,
            )
            .order_by(AuditEvent.id.desc())
            .limit(50)
        ).all()
        if any(details.get("reason") == reason for details in earlier):
            return
        record_audit_event(
            session,
            SystemActor(name, client_address),
            action,
            target_type="user",
            details={"reason": reason},
        )

    def _record_failure(
        self,
        session: Session,
        name: str,
        client_address: str | None,
        action: str,
        reason: str,
        user: User | None,
    ) -> None:
        """Step 3 of a failure: the attempt stays a failure; audited, with the lock it starts if any."""
        details: dict[str, Any] = {"reason": reason}
        now = datetime.now(UTC)
        locked_since = self._locked_since(LoginAttemptRepository(session), name, now)
        if locked_since is not None:
            details["locked_until"] = (locked_since + self.policy.window).isoformat()
        record_audit_event(
            session,
            SystemActor(name, client_address),
            action,
            target_type="user",
            target_id=str(user.id) if user is not None else None,
            details=details,
        )

    @staticmethod
    def _read(session: Session, name: str) -> _Credentials | None:
        user = UserRepository(session).by_username(name)
        return _credentials(user)

    @staticmethod
    def _read_by_id(session: Session, user_id: uuid.UUID) -> _Credentials | None:
        return _credentials(UserRepository(session).get(user_id))


_REFUSAL_ACTIONS = ("auth.login_failed", "auth.password_change_failed")


def _credentials(user: User | None) -> _Credentials | None:
    if user is None:
        return None
    return _Credentials(user.id, user.password_hash, user.is_active, user.kind)


def _minutes(duration: timedelta) -> int:
    return max(1, math.ceil(duration.total_seconds() / 60))


def unlock_username(session: Session, username: str) -> int:
    """Forgets a name's failed sign-ins, ending its lock; returns how many failures there were."""
    return LoginAttemptRepository(session).forget_failures_of_username(normalise_username(username))


class Authenticator:
    """Resolves the credentials of one request, inside the request's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def from_session_token(self, token: str, *, client_address: str | None) -> Principal | None:
        auth_session = AuthSessionRepository(self.session).by_token_hash(token_hash(token))
        if auth_session is None or auth_session.revoked_at is not None:
            return None
        if auth_session.expires_at <= datetime.now(UTC):
            return None
        user = UserRepository(self.session).get(auth_session.user_id)
        if user is None or not user.is_active:
            return None
        return principal_of_user(user, client_address=client_address, session=auth_session)

    def from_api_key(self, key: str, *, client_address: str | None) -> Principal | None:
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
            return None
        record = ApiKeyRepository(self.session).by_prefix(parts[1])
        if record is None or not hmac.compare_digest(record.key_hash, token_hash(key)):
            return None
        now = datetime.now(UTC)
        if record.revoked_at is not None or (record.expires_at is not None and record.expires_at <= now):
            return None
        user = UserRepository(self.session).get(record.user_id)
        if user is None or not user.is_active:
            return None
        if record.last_used_at is None or now - record.last_used_at >= _LAST_USED_RESOLUTION:
            record.last_used_at = now
        return principal_of_user(user, client_address=client_address, api_key=record)

    def sign_out(self, principal: Principal) -> None:
        if principal.session_id is None:
            return
        auth_session = self.session.get(AuthSession, principal.session_id)
        if auth_session is not None and auth_session.revoked_at is None:
            auth_session.revoked_at = datetime.now(UTC)
        record_audit_event(
            self.session,
            principal,
            "auth.logout",
            target_type="user",
            target_id=str(principal.user_id),
        )
