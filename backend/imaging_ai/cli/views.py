"""What the account commands print: the API's own schemas, in the envelopes the CLI has always used."""

from __future__ import annotations

from pydantic import BaseModel

from imaging_ai.api.schemas.accounts import ApiKeyCreated, ApiKeyPublic, UserPublic


class UserList(BaseModel):
    users: list[UserPublic]


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyPublic]


class ApiKeyIssued(ApiKeyCreated):
    note: str = "the key is shown only now; store it in the hospital system's secret store"
