"""docker-compose.yml and the Dockerfile cannot be run here (no Docker engine), so check what can be
checked: they parse, and name only CLI commands, settings and paths that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from imaging_ai.cli import build_parser
from imaging_ai.settings import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
COMPOSE_GPU = PROJECT_ROOT / "docker-compose.gpu.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
REPLICAS = ("api-1", "api-2")


def _cli_commands() -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return set(subparsers.choices)  # type: ignore[arg-type]


def _setting_names() -> set[str]:
    return {f"IMAGING_AI_{name.upper()}" for name in Settings.model_fields}


def _check_service(name: str, service: dict[str, Any]) -> None:
    commands = _cli_commands()
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


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return compose


def test_compose_parses_and_uses_real_commands_and_settings() -> None:
    services = _compose()["services"]
    assert {"db", "seaweedfs", "migrate", *REPLICAS, "proxy", "worker", "dicom"} <= set(services)
    for name, service in services.items():
        _check_service(name, service)
    for name in (*REPLICAS, "migrate", "worker", "dicom"):
        url = services[name]["environment"]["IMAGING_AI_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url, name


def test_migrations_run_once_before_every_process_that_uses_the_database() -> None:
    services = _compose()["services"]
    migrating = [
        name
        for name, service in services.items()
        if service.get("command")
        and (service["command"][1] == "migrate" or "--migrate" in service["command"])
    ]
    assert migrating == ["migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in (*REPLICAS, "worker", "dicom"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["db"]["condition"] == "service_healthy", name


def test_replicas_share_the_object_store_and_only_the_proxy_publishes_http() -> None:
    services = _compose()["services"]
    for name in (*REPLICAS, "worker", "dicom"):
        environment = services[name]["environment"]
        assert environment["IMAGING_AI_OBJECT_STORE"] == "s3", name
        endpoint = urlsplit(environment["IMAGING_AI_S3_ENDPOINT_URL"])
        assert endpoint.hostname in services, f"{name}: the S3 endpoint is not a compose service"
        assert endpoint.hostname == "seaweedfs" and endpoint.port == 8333
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert environment[key].startswith("${"), f"{name}: {key} must come from the environment"
        # Stateless: no volume shared between processes for images or models.
        assert not [v for v in services[name].get("volumes", []) if not v.endswith(":ro")], name
    for name in REPLICAS:
        assert services[name]["command"] == ["imaging-ai", "serve"]
        assert "ports" not in services[name], f"{name} must be reached through the proxy only"
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy", "dicom"}  # HTTP through the proxy; DICOM is not HTTP


def test_the_proxy_balances_over_both_replicas_and_is_trusted_by_them() -> None:
    services = _compose()["services"]
    proxy = services["proxy"]
    [mount] = [v for v in proxy["volumes"] if v.split(":")[1] == "/etc/nginx/nginx.conf"]
    config = (PROJECT_ROOT / mount.split(":")[0]).read_text()
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", config, flags=re.MULTILINE)
    assert sorted(upstreams) == sorted(
        (name, services[name]["environment"]["IMAGING_AI_PORT"]) for name in REPLICAS
    )
    assert "ip_hash" not in config and "least_conn" not in config  # round-robin
    upstream = re.search(r"upstream\s+(\w+)", config)
    assert upstream is not None and f"proxy_pass http://{upstream.group(1)};" in config
    assert {p.rsplit(":", 1)[1] for p in proxy["ports"]} == set(re.findall(r"listen\s+(\d+);", config))
    address = proxy["networks"]["backend"]["ipv4_address"]
    for name in REPLICAS:
        assert services[name]["environment"]["IMAGING_AI_FORWARDED_ALLOW_IPS"] == address
        assert set(services[name]["depends_on"]) >= {"db", "seaweedfs", "migrate"}


def test_seaweedfs_credentials_are_filled_in_not_committed() -> None:
    template = (PROJECT_ROOT / "deploy" / "seaweedfs" / "s3.json.template").read_text()
    assert '"${AWS_ACCESS_KEY_ID}"' in template and '"${AWS_SECRET_ACCESS_KEY}"' in template
    start = (PROJECT_ROOT / "deploy" / "seaweedfs" / "start.sh").read_text()
    assert "-s3.port=8333" in start and "-s3.config=" in start


def test_gpu_override_gives_the_worker_a_gpu() -> None:
    override = yaml.safe_load(COMPOSE_GPU.read_text())
    services = _compose()["services"]
    assert set(override["services"]) <= set(services)
    for name, service in override["services"].items():
        _check_service(name, service)
    worker = override["services"]["worker"]
    assert worker["environment"]["IMAGING_AI_DEVICE"] in {"auto", "cuda"}
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]


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
