"""docker-compose.yml and the Dockerfile cannot be run here (no Docker engine), so check what can be
checked: they parse, and name only CLI commands, settings and paths that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from imaging_ai.cli import build_parser
from imaging_ai.settings import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"


def _cli_commands() -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return set(subparsers.choices)  # type: ignore[arg-type]


def _setting_names() -> set[str]:
    return {f"IMAGING_AI_{name.upper()}" for name in Settings.model_fields}


def test_compose_parses_and_uses_real_commands_and_settings() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"db", "api"} <= set(services)
    commands = _cli_commands()
    for name, service in services.items():
        command = service.get("command")
        if command:
            assert command[0] == "imaging-ai", name
            assert command[1] in commands, f"{name} runs unknown command {command[1]}"
            args = build_parser().parse_args(command[1:])
            assert args.command == command[1]
        for variable in service.get("environment", {}):
            if variable.startswith("IMAGING_AI_"):
                assert variable in _setting_names(), f"{name} sets unknown setting {variable}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), volume
    assert services["api"]["depends_on"]["db"]["condition"] == "service_healthy"
    url = services["api"]["environment"]["IMAGING_AI_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url


def test_dockerfile_names_real_paths_commands_and_settings() -> None:
    text = DOCKERFILE.read_text()
    for source in re.findall(r"^COPY\s+(?!--from)(.+?)\s+\S+$", text, flags=re.MULTILINE):
        for path in source.split():
            assert (PROJECT_ROOT / path).exists(), f"COPY source {path} is missing"
    cmd = re.search(r"^CMD\s+(\[.*\])$", text, flags=re.MULTILINE)
    assert cmd is not None
    argv = yaml.safe_load(cmd.group(1))
    assert argv[0] == "imaging-ai" and argv[1] in _cli_commands()
    build_parser().parse_args(argv[1:])
    for variable in re.findall(r"\b(IMAGING_AI_[A-Z_]+)=", text):
        assert variable in _setting_names(), variable


def test_readme_documents_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for variable in _setting_names():
        assert f"`{variable}`" in readme, f"{variable} is not in the README's settings table"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks[0].strip() == "make run"
    assert blocks[1].strip() == "make test"
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == [
        "make test"
    ]
    assert shlex.split(blocks[1])  # a plain shell command


def test_gitignore_keeps_runtime_data_out(tmp_path: Path) -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().split()
    assert "/var/" in ignored and "/.venv/" in ignored
