"""Administration of users, service accounts and their API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from imaging_ai.api.deps import AccountServiceDep
from imaging_ai.api.paging import Offset
from imaging_ai.api.schemas.accounts import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    PasswordReset,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.schemas.vocabulary import UserKind
from imaging_ai.api.security import IsAdmin

users_router = APIRouter(prefix="/api/v1/users", tags=["users"])
keys_router = APIRouter(prefix="/api/v1/api-keys", tags=["users"])


@users_router.get("", summary="List users", description="People and service accounts, by name.")
def list_users(
    _admin: IsAdmin,
    accounts: AccountServiceDep,
    kind: UserKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[UserPublic]:
    return [UserPublic.from_record(user) for user in accounts.page(kind=kind, limit=limit, offset=offset)]


@users_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    description="A person (with roles and a password of at least 12 characters) or a service account "
    "(no roles, no password: give it API keys).",
    responses=error_responses(409, 422),
)
def create_user(body: UserCreate, admin: IsAdmin, accounts: AccountServiceDep) -> UserPublic:
    user = accounts.create_user(
        admin,
        username=body.username,
        display_name=body.display_name,
        kind=body.kind,
        roles=body.roles,
        password=body.password.get_secret_value() if body.password is not None else None,
    )
    return UserPublic.from_record(user)


@users_router.get("/{user_id}", summary="Get a user", responses=error_responses(404, 422))
def get_user(user_id: uuid.UUID, _admin: IsAdmin, accounts: AccountServiceDep) -> UserPublic:
    return UserPublic.from_record(accounts.get_user(user_id))


@users_router.patch(
    "/{user_id}",
    summary="Change a user",
    description="Display name, the complete set of roles, or active/inactive (deactivating ends the user's "
    "sessions). The last active administrator cannot lose the role or be deactivated (409 `last_admin`).",
    responses=error_responses(404, 409, 422),
)
def update_user(
    user_id: uuid.UUID, body: UserUpdate, admin: IsAdmin, accounts: AccountServiceDep
) -> UserPublic:
    user = accounts.update_user(
        admin, user_id, display_name=body.display_name, roles=body.roles, is_active=body.is_active
    )
    return UserPublic.from_record(user)


@users_router.post(
    "/{user_id}/password",
    summary="Reset a password",
    description="Sets a person's password (for example after a lock-out) and ends their sessions.",
    responses=error_responses(404, 422),
)
def reset_password(
    user_id: uuid.UUID, body: PasswordReset, admin: IsAdmin, accounts: AccountServiceDep
) -> UserPublic:
    return UserPublic.from_record(accounts.set_password(admin, user_id, body.password.get_secret_value()))


@users_router.post(
    "/{user_id}/unlock",
    summary="Unlock an account",
    description="Ends a lock-out after repeated failed sign-ins at once, by forgetting the account's "
    "failures (the password is unchanged). Audited as `user.unlock` with the number of failures cleared. "
    "Unlocking an account that is not locked is harmless.",
    responses=error_responses(404, 422),
)
def unlock_user(user_id: uuid.UUID, admin: IsAdmin, accounts: AccountServiceDep) -> UserPublic:
    return UserPublic.from_record(accounts.unlock(admin, user_id))


@keys_router.get(
    "",
    summary="List API keys",
    description="Keys are listed by their prefix only; the key itself is never shown again.",
    responses=error_responses(422),
)
def list_api_keys(
    _admin: IsAdmin,
    accounts: AccountServiceDep,
    user_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[ApiKeyPublic]:
    keys = accounts.api_keys(user_id=user_id, limit=limit, offset=offset)
    return [ApiKeyPublic.from_record(key) for key in keys]


@users_router.post(
    "/{user_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    description="For a service account. The answer holds the key itself, once; only its hash is kept.",
    responses=error_responses(404, 422),
)
def create_api_key(
    user_id: uuid.UUID, body: ApiKeyCreate, admin: IsAdmin, accounts: AccountServiceDep
) -> ApiKeyCreated:
    created = accounts.create_api_key(
        admin, user_id, name=body.name, scopes=body.scopes, expires_in_days=body.expires_in_days
    )
    return ApiKeyCreated(**ApiKeyPublic.from_record(created.record).model_dump(), key=created.key)


@keys_router.post(
    "/{key_id}/revoke",
    summary="Revoke an API key",
    description="The key stops working at once. Revoking twice is harmless.",
    responses=error_responses(404, 422),
)
def revoke_api_key(key_id: uuid.UUID, admin: IsAdmin, accounts: AccountServiceDep) -> ApiKeyPublic:
    return ApiKeyPublic.from_record(accounts.revoke_api_key(admin, key_id))
