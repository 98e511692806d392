"""The `imaging-ai` command line: its entry points, choices taken from the domain, and account
commands that print the API's own schemas."""

from __future__ import annotations

import argparse
import io
import json
import tomllib
from typing import Any

import pytest

from imaging_ai import cli
from imaging_ai.api.schemas.accounts import ApiKeyCreated, ApiKeyPublic, UserPublic
from imaging_ai.settings import PROJECT_ROOT, Settings
from imaging_ai.vocabulary import ApiKeyScope, Role

PASSWORD = "correct horse battery staple"


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    found: argparse.ArgumentParser = commands.choices[name]
    return found


def _choices(*path: str, option: str) -> list[str]:
    parser = cli.build_parser()
    for name in path:
        parser = _subparser(parser, name)
    [action] = [a for a in parser._actions if option in a.option_strings]
    return list(action.choices or [])


def test_the_console_script_and_the_shared_helpers_are_where_they_were() -> None:
    scripts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["imaging-ai"] == "imaging_ai.cli:main"
    assert callable(cli.main) and callable(cli.build_parser)
    assert cli.uvicorn_options(Settings(forwarded_allow_ips=[]))["proxy_headers"] is False


def test_role_and_scope_choices_are_the_domains() -> None:
    roles = [role.value for role in Role]
    assert _choices("users", "create", option="--role") == roles
    assert _choices("users", "update", option="--role") == roles
    assert _choices("api-keys", "create", option="--scope") == [scope.value for scope in ApiKeyScope]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["users", "create", "--username", "x", "--role", "nurse"])


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, Any, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def test_account_commands_print_the_api_schemas(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAGING_AI_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("IMAGING_AI_DATA_DIR", str(settings.data_dir))

    def run(*argv: str, stdin: str = "") -> tuple[int, Any, str]:
        return _run(monkeypatch, capsys, *argv, stdin=stdin)

    code, admin, _ = run("create-admin", "--username", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and UserPublic.model_validate(admin).roles == ["admin"]
    code, service, _ = run("users", "create", "--username", "pacs-gateway", "--service")
    assert code == 0 and service["kind"] == "service" and service["roles"] == []

    code, listed, _ = run("users", "list")
    assert code == 0 and set(listed) == {"users"}
    users = [UserPublic.model_validate(user) for user in listed["users"]]
    assert {user.username for user in users} == {"admin", "pacs-gateway"}
    # The keys the command printed before it used the API's schema are all still there.
    assert all({"id", "username", "kind", "roles", "is_active"} <= set(user) for user in listed["users"])

    code, created, _ = run("api-keys", "create", "--user", "pacs-gateway", "--name", "PACS", "--scope=read")
    assert code == 0 and ApiKeyCreated.model_validate(created).scopes == ["read"]
    assert created["key"].startswith("iai_") and "shown only now" in created["note"]
    code, keys, _ = run("api-keys", "list", "--user", "pacs-gateway")
    assert code == 0 and [ApiKeyPublic.model_validate(key).id for key in keys["api_keys"]] == [
        ApiKeyPublic.model_validate(created).id
    ]
    code, revoked, _ = run("api-keys", "revoke", created["id"])
    assert code == 0 and ApiKeyPublic.model_validate(revoked).revoked_at is not None

    code, printed, error = run("users", "unlock", "--username", "nobody")
    assert code == 2 and printed is None
    assert json.loads(error)["error"]["code"] == "unknown_user"
