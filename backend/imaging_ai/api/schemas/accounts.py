"""Sign-in, users, service accounts and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from imaging_ai import vocabulary
from imaging_ai.api.schemas.text import Text
from imaging_ai.api.schemas.vocabulary import ApiKeyScope, Role, UserKind
from imaging_ai.persistence.models import ApiKey, User


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "dr.lee", "password": "correct horse battery staple"}]},
    )

    username: Text = Field(min_length=1, max_length=64)
    password: SecretStr = Field(min_length=1, max_length=256)


class UserPublic(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    kind: UserKind = Field(description="`person` (signs in) or `service` (a hospital system with API keys).")
    roles: list[Role] = Field(description="A person's roles; a service account has none.")
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_record(cls, user: User) -> UserPublic:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            kind="service" if user.kind == "service" else "person",
            roles=[role for role in user.role_names if role in ("clinician", "admin")],
            is_active=user.is_active,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class SessionPublic(BaseModel):
    """Who is signed in. The web app sends `csrf_token` back in `X-CSRF-Token` on state changes."""

    user: UserPublic
    permissions: list[str] = Field(description="What this identity may do: read, predict, review, admin.")
    credential: Literal["session", "api_key"]
    csrf_token: str | None = Field(description="The session's CSRF token; null for API keys.")
    expires_at: datetime | None = Field(description="When the session ends; null for API keys.")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: SecretStr = Field(min_length=1, max_length=256)
    # The length rule lives in one place (the password policy), which answers `weak_password`.
    new_password: SecretStr = Field(max_length=256)


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "dr.lee",
                    "display_name": "Dr. Ada Lee",
                    "kind": "person",
                    "roles": ["clinician"],
                    "password": "a long passphrase of her own",
                },
                {"username": "pacs-gateway", "display_name": "PACS gateway", "kind": "service"},
            ]
        },
    )

    username: Text = Field(
        min_length=2, max_length=64, description="Lower-case letters, digits, `.`, `_`, `-`."
    )
    display_name: Text | None = Field(default=None, max_length=128)
    kind: UserKind = vocabulary.UserKind.person
    roles: list[Role] = Field(default_factory=list, description="Required for a person; none for a service.")
    password: SecretStr | None = Field(
        default=None, max_length=256, description="Required for a person (at least 12 characters)."
    )


class UserUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"roles": ["clinician", "admin"]}, {"is_active": False}]},
    )

    display_name: Text | None = Field(default=None, min_length=1, max_length=128)
    roles: list[Role] | None = Field(default=None, description="The complete new set of roles.")
    is_active: bool | None = Field(default=None, description="False signs the user out and blocks sign-in.")


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(max_length=256, description="At least 12 characters.")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "PACS router, ward 3", "scopes": ["predict", "read"], "expires_in_days": 365}
            ]
        },
    )

    name: Text = Field(min_length=1, max_length=128, description="What the key is for.")
    scopes: list[ApiKeyScope] = Field(min_length=1, description="`predict` (upload and classify), `read`.")
    expires_in_days: int | None = Field(
        default=365, ge=1, le=3650, description="Days until the key stops working; null: never."
    )


class ApiKeyPublic(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's public part (`iai_<prefix>_...`), to recognise it.")
    scopes: list[ApiKeyScope]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_record(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            user_id=key.user_id,
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            created_by=key.created_by,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself. Shown only in this response; store it now.")
