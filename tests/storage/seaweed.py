"""A real SeaweedFS (master, volume, filer and S3 gateway in one `weed server`) on free loopback ports,
for the object-store tests. Skips when the `weed` binary is not installed."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 45.0
STOP_TIMEOUT_S = 1.0
"""Then SIGKILL: the data is a throwaway folder, a slow graceful stop buys nothing."""
GRPC_OFFSET = 10_000
"""SeaweedFS listens for gRPC on each HTTP port + 10000 unless told otherwise; we name them all."""


@dataclass(frozen=True)
class SeaweedS3:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}


def weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _free_port_pair(taken: set[int]) -> int:
    """A port p with p and p + GRPC_OFFSET both free on loopback (and not handed out already)."""
    for _ in range(200):
        with closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + GRPC_OFFSET > 65535 or port in taken or port + GRPC_OFFSET in taken:
            continue
        with closing(socket.socket()) as other:
            try:
                other.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                continue
        taken.update({port, port + GRPC_OFFSET})
        return port
    raise RuntimeError("no free pair of loopback ports")


def _free_port(taken: set[int]) -> int:
    while True:
        with closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    if weed_binary() is None:
        pytest.skip("SeaweedFS (`weed`) is not installed")
    with seaweed_server(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@contextmanager
def seaweed_server(root: Path) -> Iterator[SeaweedS3]:
    """`weed server` with its data under `root`, until the block ends (the benchmarks use it too)."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("SeaweedFS (`weed`) is not installed")
    access_key, secret_key = f"test{secrets.token_hex(6)}", secrets.token_hex(20)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "tests",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    taken: set[int] = set()
    master, volume, filer, s3 = (_free_port_pair(taken) for _ in range(4))
    data = root / "data"
    data.mkdir()
    command = [
        binary,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master + GRPC_OFFSET}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume + GRPC_OFFSET}",
        "-volume.max=8",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer + GRPC_OFFSET}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3 + GRPC_OFFSET}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        f"-iam.port={_free_port(taken)}",
        f"-metricsPort={_free_port(taken)}",
    ]
    with ExitStack() as stack:
        log = stack.enter_context((root / "weed.log").open("wb"))
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        stack.callback(_stop, process)
        server = SeaweedS3(f"http://127.0.0.1:{s3}", access_key, secret_key)
        _wait_until_ready(server, process, root / "weed.log")
        yield server


def _wait_until_ready(server: SeaweedS3, process: subprocess.Popen[bytes], log: Path) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    bucket = f"ready-{secrets.token_hex(4)}"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            # Ready means a write goes through: the filer and a volume are up, not just the gateway.
            client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            client.delete_object(Bucket=bucket, Key="probe")
            client.delete_bucket(Bucket=bucket)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS S3 not ready:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
