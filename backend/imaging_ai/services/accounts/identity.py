"""Who is calling: permissions, the roles and API-key scopes that grant them, and the principal.

Roles belong to people (`clinician`, `admin`); service accounts hold no role and get exactly the
scopes of the API key they present (`read`, `predict`), so a leaked hospital-system key can never
give verdicts or change models.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from imaging_ai.vocabulary import ApiKeyScope, Role, UserKind


class Permission(StrEnum):
    READ = "read"
    """View images, predictions, verdict histories, tasks and model versions."""
    PREDICT = "predict"
    """Upload images and ask for predictions."""
    REVIEW = "review"
    """Give verdicts."""
    ADMIN = "admin"
    """Models, training, promotion, rollback, users, API keys and the audit log."""


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.clinician: frozenset({Permission.READ, Permission.PREDICT, Permission.REVIEW}),
    Role.admin: frozenset(Permission),
}
SCOPE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    ApiKeyScope.read: frozenset({Permission.READ}),
    ApiKeyScope.predict: frozenset({Permission.PREDICT}),
}


def permissions_of_roles(roles: Iterable[str]) -> frozenset[Permission]:
    return _granted(ROLE_PERMISSIONS, roles)


def permissions_of_scopes(scopes: Iterable[str]) -> frozenset[Permission]:
    return _granted(SCOPE_PERMISSIONS, scopes)


def _granted(grants: dict[str, frozenset[Permission]], names: Iterable[str]) -> frozenset[Permission]:
    return frozenset().union(*(grants.get(name, frozenset()) for name in names))


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request, and where it came from (for the audit log)."""

    user_id: uuid.UUID
    username: str
    display_name: str
    kind: UserKind
    roles: tuple[str, ...]
    permissions: frozenset[Permission]
    credential: Literal["session", "api_key"]
    client_address: str | None = None
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    csrf_token: str | None = None
    session_expires_at: datetime | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class SystemActor:
    """An actor that is not a signed-in account: the command line, the service itself (automatic
    decisions), or a sign-in attempt known only by the name it gave."""

    username: str
    client_address: str | None = None
    user_id: None = None


Actor = Principal | SystemActor
"""Whoever an audited action is attributed to."""
