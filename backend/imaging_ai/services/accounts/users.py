"""Managing accounts: people and their roles, service accounts and their API keys, passwords.

Every change is audited. The service refuses to leave the deployment without an active
administrator (removing the last one's role or deactivating them), so nobody can lock everyone out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.persistence.api_keys import ApiKeyRepository
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.auth_sessions import AuthSessionRepository
from imaging_ai.persistence.models import ApiKey, User
from imaging_ai.persistence.users import UserRepository
from imaging_ai.services.accounts import passwords
from imaging_ai.services.accounts.authentication import new_api_key, token_hash, unlock_username
from imaging_ai.services.accounts.identity import Actor
from imaging_ai.vocabulary import ApiKeyScope, Role, UserKind

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class UsernameTakenError(DomainError):
    status_code = 409
    code = "username_taken"


class InvalidAccountError(DomainError):
    status_code = 422
    code = "invalid_account"


class LastAdminError(DomainError):
    status_code = 409
    code = "last_admin"


class UnknownUserError(NotFoundError):
    code = "unknown_user"


class UnknownApiKeyError(NotFoundError):
    code = "unknown_api_key"


@dataclass(frozen=True)
class NewApiKey:
    record: ApiKey
    key: str
    """The key itself: shown once, never stored."""


class AccountService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.keys = ApiKeyRepository(session)

    # --- people and service accounts ---------------------------------------------------------------

    def create_user(
        self,
        actor: Actor,
        *,
        username: str,
        display_name: str | None = None,
        kind: str = UserKind.person,
        roles: Sequence[str] = (),
        password: str | None = None,
    ) -> User:
        name = username.strip().lower()
        if not USERNAME_PATTERN.fullmatch(name):
            raise InvalidAccountError(
                "A user name is 2-64 characters: lower-case letters, digits, '.', '_' or '-'."
            )
        _check_roles(roles)
        if kind == "service":
            if roles or password is not None:
                raise InvalidAccountError(
                    "A service account has no roles and no password; it gets API keys with scopes."
                )
        elif password is None:
            raise InvalidAccountError("A person needs a password to sign in.")
        elif not roles:
            raise InvalidAccountError("A person needs at least one role.")
        password_hash = None
        if password is not None:
            passwords.check_policy(password, username=name)
            # Hashed before the first query: routes resolve the caller in a transaction of their own, so
            # the request's has not begun yet, and Argon2 must not hold SQLite's write lock.
            password_hash = passwords.hash_password(password)
        if self.users.by_username(name) is not None:
            raise UsernameTakenError("A user with this name exists.")
        user = self.users.add(
            User(
                username=name,
                display_name=(display_name or name).strip(),
                kind=kind,
                password_hash=password_hash,
                password_changed_at=datetime.now(UTC) if password is not None else None,
            )
        )
        self.users.set_roles(user, roles)
        self._audit(actor, "user.create", user, {"kind": kind, "roles": sorted(roles)})
        return user

    def get_user(self, user_id: uuid.UUID) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise UnknownUserError("No user with this id.", details={"user_id": str(user_id)})
        return user

    def get_user_by_name(self, username: str) -> User:
        user = self.users.by_username(username.strip().lower())
        if user is None:
            raise UnknownUserError("No user with this name.")
        return user

    def page(self, *, kind: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[User]:
        return self.users.page(kind=kind, limit=limit, offset=offset)

    def update_user(
        self,
        actor: Actor,
        user_id: uuid.UUID,
        *,
        display_name: str | None = None,
        roles: Sequence[str] | None = None,
        is_active: bool | None = None,
    ) -> User:
        user = self.get_user(user_id)
        was_admin = user.is_active and Role.admin in user.role_names
        if display_name is not None:
            user.display_name = display_name.strip()
        if roles is not None and sorted(roles) != user.role_names:
            _check_roles(roles)
            if user.kind == UserKind.service and roles:
                raise InvalidAccountError("A service account has no roles; its API keys carry scopes.")
            if user.kind == UserKind.person and not roles:
                raise InvalidAccountError("A person needs at least one role; deactivate the account instead.")
            before = user.role_names
            self.users.set_roles(user, roles)
            self._audit(actor, "user.roles_change", user, {"before": before, "after": sorted(roles)})
        if is_active is not None and is_active != user.is_active:
            user.is_active = is_active
            if not is_active:
                AuthSessionRepository(self.session).revoke_all_of(user.id, datetime.now(UTC))
            self._audit(actor, "user.activate" if is_active else "user.deactivate", user, {})
        self.session.flush()
        is_admin = user.is_active and Role.admin in user.role_names
        if was_admin and not is_admin and self.users.count_active_admins() == 0:
            raise LastAdminError("This is the last active administrator; make another one first.")
        return user

    def set_password(self, actor: Actor, user_id: uuid.UUID, password: str) -> User:
        """Sets a person's password and signs them out everywhere."""
        # Hashed before the first query, outside the transaction (as in `create_user`); the policy needs
        # the user name and is checked after it, so the hashing work is bounded here by the length.
        password_hash = passwords.hash_password(password[: passwords.MAX_LENGTH + 1])
        user = self.get_user(user_id)
        if user.kind != "person":
            raise InvalidAccountError("A service account has no password.")
        passwords.check_policy(password, username=user.username)
        now = datetime.now(UTC)
        user.password_hash = password_hash
        user.password_changed_at = now
        AuthSessionRepository(self.session).revoke_all_of(user.id, now)
        self._audit(actor, "user.password_change", user, {})
        return user

    def unlock(self, actor: Actor, user_id: uuid.UUID) -> User:
        """Ends a lock-out at once: forgets the account's failed sign-ins (audited with their number).

        Changing one's own password is `SignInService.change_password`: it checks the current password
        outside any transaction and behind the sign-in throttle.
        """
        user = self.get_user(user_id)
        cleared = unlock_username(self.session, user.username)
        self._audit(actor, "user.unlock", user, {"failures_cleared": cleared})
        return user

    # --- API keys ------------------------------------------------------------------------------------

    def create_api_key(
        self,
        actor: Actor,
        user_id: uuid.UUID,
        *,
        name: str,
        scopes: Sequence[str],
        expires_in_days: int | None = None,
    ) -> NewApiKey:
        """`expires_in_days` None: the key never expires."""
        user = self.get_user(user_id)
        if user.kind != "service":
            raise InvalidAccountError(
                "API keys belong to service accounts; people sign in with their password."
            )
        unknown = sorted(set(scopes) - set(ApiKeyScope))
        if not scopes or unknown:
            raise InvalidAccountError(
                "An API key needs one or more scopes.", details={"allowed": list(ApiKeyScope)}
            )
        if expires_in_days is not None and expires_in_days <= 0:
            raise InvalidAccountError("An API key's expiry must be in the future.")
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        key, prefix = new_api_key()
        record = self.keys.add(
            ApiKey(
                user_id=user.id,
                name=name.strip(),
                prefix=prefix,
                key_hash=token_hash(key),
                scopes=sorted(set(scopes)),
                created_by=actor.username,
                expires_at=expires_at,
            )
        )
        self._audit(
            actor,
            "api_key.create",
            user,
            {"api_key_id": str(record.id), "prefix": prefix, "scopes": record.scopes},
        )
        return NewApiKey(record, key)

    def api_keys(
        self, *, user_id: uuid.UUID | None = None, limit: int = 100, offset: int = 0
    ) -> Sequence[ApiKey]:
        return self.keys.page(user_id=user_id, limit=limit, offset=offset)

    def get_api_key(self, key_id: uuid.UUID) -> ApiKey:
        record = self.keys.get(key_id)
        if record is None:
            raise UnknownApiKeyError("No API key with this id.", details={"api_key_id": str(key_id)})
        return record

    def revoke_api_key(self, actor: Actor, key_id: uuid.UUID) -> ApiKey:
        record = self.get_api_key(key_id)
        if record.revoked_at is None:
            record.revoked_at = datetime.now(UTC)
            user = self.get_user(record.user_id)
            self._audit(
                actor, "api_key.revoke", user, {"api_key_id": str(record.id), "prefix": record.prefix}
            )
        return record

    def _audit(self, actor: Actor, action: str, user: User, details: dict[str, Any]) -> None:
        record_audit_event(
            self.session,
            actor,
            action,
            target_type="user",
            target_id=str(user.id),
            details={"username": user.username, **details},
        )


def _check_roles(roles: Sequence[str]) -> None:
    unknown = sorted(set(roles) - set(Role))
    if unknown:
        raise InvalidAccountError(f"Unknown roles: {', '.join(unknown)}.", details={"allowed": list(Role)})
