"""Service accounts' API keys: `api-keys create`, `list` and `revoke`."""

from __future__ import annotations

import argparse
import uuid
from typing import TYPE_CHECKING

from pydantic import BaseModel

from imaging_ai.cli.accounts import CLI, run_account_work
from imaging_ai.settings import Settings
from imaging_ai.vocabulary import ApiKeyScope

if TYPE_CHECKING:
    from imaging_ai.services.accounts.users import AccountService

SCOPE_CHOICES = [scope.value for scope in ApiKeyScope]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("api-keys", help="Manage service accounts' API keys.")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="Create a key (printed once).")
    create.add_argument("--user", required=True, help="The service account's user name.")
    create.add_argument("--name", required=True, help="What the key is for.")
    create.add_argument("--scope", action="append", required=True, choices=SCOPE_CHOICES)
    create.add_argument("--expires-days", type=int, default=365, help="0: never expires.")
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="List keys (prefixes only).")
    listing.add_argument("--user", help="Only this service account's keys.")
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="Revoke a key at once.")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_revoke)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.api.schemas.accounts import ApiKeyPublic
    from imaging_ai.cli.views import ApiKeyIssued

    def work(accounts: AccountService) -> BaseModel:
        user = accounts.get_user_by_name(args.user)
        created = accounts.create_api_key(
            CLI, user.id, name=args.name, scopes=args.scope, expires_in_days=args.expires_days or None
        )
        return ApiKeyIssued(**ApiKeyPublic.from_record(created.record).model_dump(), key=created.key)

    return run_account_work(settings, work)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.api.schemas.accounts import ApiKeyPublic
    from imaging_ai.cli.views import ApiKeyList

    def work(accounts: AccountService) -> BaseModel:
        user_id = accounts.get_user_by_name(args.user).id if args.user else None
        keys = accounts.api_keys(user_id=user_id, limit=500)
        return ApiKeyList(api_keys=[ApiKeyPublic.from_record(key) for key in keys])

    return run_account_work(settings, work)


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.api.schemas.accounts import ApiKeyPublic

    def work(accounts: AccountService) -> BaseModel:
        return ApiKeyPublic.from_record(accounts.revoke_api_key(CLI, uuid.UUID(args.key_id)))

    return run_account_work(settings, work)
