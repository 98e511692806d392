"""Signing in and out, and turning a session cookie or an API key into a principal.

Throttling: failed sign-ins are counted per typed user name and per client address over a window.
A name with too many recent failures is locked for the rest of the window whether or not such a
user exists, so the lock reveals nothing about which accounts exist. Attempts are recorded in their
own transaction: a refused sign-in must still count, although the request itself fails.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.errors import DomainError
from imaging_ai.persistence.api_keys import ApiKeyRepository
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.auth_sessions import AuthSessionRepository, LoginAttemptRepository
from imaging_ai.persistence.models import ApiKey, AuthSession, User
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.persistence.users import UserRepository
from imaging_ai.services import passwords
from imaging_ai.services.identity import Principal, permissions_of_roles, permissions_of_scopes

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
        kind="service" if user.kind == "service" else "person",
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


class _Outcome(Enum):
    SIGNED_IN = "signed_in"
    INVALID = "invalid"
    LOCKED = "locked"
    THROTTLED = "throttled"


class SignInService:
    """Password sign-in; manages its own transactions (see the module's note)."""

    def __init__(self, session_factory: sessionmaker[Session], policy: LoginPolicy | None = None) -> None:
        self.session_factory = session_factory
        self.policy = policy or LoginPolicy()

    def sign_in(self, username: str, password: str, *, client_address: str | None) -> SignedIn:
        name = normalise_username(username)
        with transaction(self.session_factory) as session:
            outcome, signed_in = self._attempt(session, name, password, client_address)
        minutes = int(self.policy.window.total_seconds() // 60)
        if outcome is _Outcome.LOCKED:
            raise AccountLockedError(
                f"This account is locked after repeated failed sign-ins; try again within {minutes} minutes.",
                details={"retry_after_seconds": int(self.policy.window.total_seconds())},
            )
        if outcome is _Outcome.THROTTLED:
            raise TooManyAttemptsError(
                f"Too many failed sign-ins from this address; try again within {minutes} minutes.",
                details={"retry_after_seconds": int(self.policy.window.total_seconds())},
            )
        if outcome is _Outcome.INVALID or signed_in is None:
            raise InvalidCredentialsError("The user name or password is wrong.")
        return signed_in

    def _attempt(
        self, session: Session, name: str, password: str, client_address: str | None
    ) -> tuple[_Outcome, SignedIn | None]:
        now = datetime.now(UTC)
        since = now - self.policy.window
        attempts = LoginAttemptRepository(session)

        def refuse(outcome: _Outcome, reason: str) -> tuple[_Outcome, None]:
            if outcome is _Outcome.INVALID:
                attempts.add(name, client_address, succeeded=False)
            record_audit_event(
                session,
                actor=name,
                action="auth.login_failed",
                target_type="user",
                client_address=client_address,
                details={"reason": reason},
            )
            return outcome, None

        if attempts.failures_of_username(name, since) >= self.policy.max_failures_per_account:
            return refuse(_Outcome.LOCKED, "account_locked")
        if (
            client_address is not None
            and attempts.failures_from_address(client_address, since) >= self.policy.max_failures_per_address
        ):
            return refuse(_Outcome.THROTTLED, "address_throttled")

        user = UserRepository(session).by_username(name)
        # Always verify (against a dummy hash when there is no user) so timing reveals nothing.
        password_ok = passwords.verify_password(user.password_hash if user else None, password)
        if user is None or not password_ok:
            return refuse(_Outcome.INVALID, "bad_credentials")
        if not user.is_active or user.kind != "person":
            return refuse(_Outcome.INVALID, "inactive" if not user.is_active else "service_account")

        if user.password_hash and passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        user.last_login_at = now
        attempts.add(name, client_address, succeeded=True)
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
        record_audit_event(
            session,
            actor=user.username,
            action="auth.login",
            target_type="user",
            target_id=str(user.id),
            client_address=client_address,
        )
        principal = principal_of_user(user, client_address=client_address, session=auth_session)
        return _Outcome.SIGNED_IN, SignedIn(principal, token, auth_session.expires_at)


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
            actor=principal.username,
            action="auth.logout",
            target_type="user",
            target_id=str(principal.user_id),
            client_address=principal.client_address,
        )
