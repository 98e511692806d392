"""Accounts: the first administrator (`create-admin`), people and service accounts (`users ...`).

Account work runs in one transaction as the `cli` actor (audited like an administrator's request) and
prints what the API would answer, as JSON; a refusal prints the API's error envelope on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from imaging_ai.cli.database import transaction
from imaging_ai.services.accounts.identity import SystemActor
from imaging_ai.settings import Settings
from imaging_ai.vocabulary import Role, UserKind

if TYPE_CHECKING:
    from imaging_ai.api.schemas.accounts import UserPublic
    from imaging_ai.persistence.models import User
    from imaging_ai.services.accounts.users import AccountService

CLI = SystemActor("cli")
ROLE_CHOICES = [role.value for role in Role]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser(
        "create-admin", help="Create an administrator (the first one, or another); asks for the password."
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--display-name")
    admin.add_argument("--password-stdin", action="store_true", help="Read the password from stdin.")
    admin.set_defaults(handler=_create_admin)

    users = commands.add_parser("users", help="Manage people and service accounts.")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="Create a person (with roles) or a service account.")
    create.add_argument("--username", required=True)
    create.add_argument("--display-name")
    create.add_argument("--role", action="append", choices=ROLE_CHOICES, help="Repeatable.")
    create.add_argument("--service", action="store_true", help="A service account (API keys only).")
    create.add_argument("--password-stdin", action="store_true")
    create.set_defaults(handler=_users_create)
    actions.add_parser("list", help="List users.").set_defaults(handler=_users_list)
    update = actions.add_parser("update", help="Set a user's roles or (de)activate them.")
    update.add_argument("--username", required=True)
    update.add_argument("--role", action="append", choices=ROLE_CHOICES, help="The new set.")
    update.add_argument("--active", choices=["yes", "no"])
    update.set_defaults(handler=_users_update)
    password = actions.add_parser("set-password", help="Set a person's password.")
    password.add_argument("--username", required=True)
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(handler=_users_password)
    unlock = actions.add_parser(
        "unlock", help="End a lock-out after failed sign-ins (forgets the account's failures)."
    )
    unlock.add_argument("--username", required=True)
    unlock.set_defaults(handler=_users_unlock)


def run_account_work(settings: Settings, work: Callable[[AccountService], BaseModel]) -> int:
    """Runs account work in one transaction as the `cli` actor; prints its result as JSON."""
    from imaging_ai.errors import DomainError
    from imaging_ai.services.accounts.users import AccountService

    try:
        with transaction(settings) as session:
            result = work(AccountService(session))
    except DomainError as error:
        print(json.dumps({"error": {"code": error.code, "message": error.message}}), file=sys.stderr)
        return 2
    print(json.dumps(result.model_dump(mode="json"), indent=2))
    return 0


def read_password(args: argparse.Namespace) -> str:
    """From one line of standard input (`--password-stdin`), else asked twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    if not sys.stdin.isatty():
        raise SystemExit("no terminal to ask for the password: pass --password-stdin")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("the passwords differ")
    return first


def _public(user: User) -> UserPublic:
    from imaging_ai.api.schemas.accounts import UserPublic

    return UserPublic.from_record(user)


def _create_admin(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args)

    def work(accounts: AccountService) -> BaseModel:
        return _public(
            accounts.create_user(
                CLI,
                username=args.username,
                display_name=args.display_name,
                roles=[Role.admin],
                password=password,
            )
        )

    return run_account_work(settings, work)


def _users_create(args: argparse.Namespace, settings: Settings) -> int:
    password = None if args.service else read_password(args)

    def work(accounts: AccountService) -> BaseModel:
        return _public(
            accounts.create_user(
                CLI,
                username=args.username,
                display_name=args.display_name,
                kind=UserKind.service if args.service else UserKind.person,
                roles=args.role or [],
                password=password,
            )
        )

    return run_account_work(settings, work)


def _users_list(_args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.cli.views import UserList

    def work(accounts: AccountService) -> BaseModel:
        return UserList(users=[_public(user) for user in accounts.page(limit=500)])

    return run_account_work(settings, work)


def _users_update(args: argparse.Namespace, settings: Settings) -> int:
    def work(accounts: AccountService) -> BaseModel:
        user = accounts.get_user_by_name(args.username)
        active = None if args.active is None else args.active == "yes"
        return _public(accounts.update_user(CLI, user.id, roles=args.role, is_active=active))

    return run_account_work(settings, work)


def _users_password(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args)

    def work(accounts: AccountService) -> BaseModel:
        return _public(accounts.set_password(CLI, accounts.get_user_by_name(args.username).id, password))

    return run_account_work(settings, work)


def _users_unlock(args: argparse.Namespace, settings: Settings) -> int:
    def work(accounts: AccountService) -> BaseModel:
        return _public(accounts.unlock(CLI, accounts.get_user_by_name(args.username).id))

    return run_account_work(settings, work)
