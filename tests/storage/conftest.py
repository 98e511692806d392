"""Object-store fixtures: every contract test runs on the local folder and on a real SeaweedFS."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imaging_ai.settings import Settings
from imaging_ai.storage.object_store import LocalObjectStore, ObjectStore, S3ObjectStore
from tests.storage.seaweed import SeaweedS3, seaweed

__all__ = ["seaweed"]

TEST_BUCKET = "imaging-ai-tests"


@pytest.fixture
def s3_credentials(seaweed: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> SeaweedS3:
    """The server, with its keys in the standard AWS environment variables (as a deployment sets them)."""
    for name, value in seaweed.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return seaweed


@pytest.fixture
def s3_settings(s3_credentials: SeaweedS3, tmp_path: Path) -> Settings:
    """Settings of a deployment on the S3 store; a prefix of its own per test (one bucket for all)."""
    return Settings(
        data_dir=tmp_path / "data",
        object_store="s3",
        s3_endpoint_url=s3_credentials.endpoint_url,
        s3_bucket=TEST_BUCKET,
        s3_prefix=f"t-{secrets.token_hex(6)}",
        pseudonym_key="test-pseudonym-key",
    )


def raw_client(server: SeaweedS3) -> Any:
    """A client of its own, to change objects behind the stores' backs."""
    import boto3  # type: ignore[import-untyped]

    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )


@pytest.fixture(params=["local", "s3"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def object_store(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    if store_kind == "local":
        yield LocalObjectStore(tmp_path / "objects")
        return
    server: SeaweedS3 = request.getfixturevalue("s3_credentials")
    yield S3ObjectStore.connect(
        endpoint_url=server.endpoint_url,
        bucket=TEST_BUCKET,
        region=server.region,
        prefix=f"t-{secrets.token_hex(6)}/",
    )


@pytest.fixture
def tamper(request: pytest.FixtureRequest) -> Callable[[ObjectStore, str, bytes], None]:
    """Replaces an object's bytes without going through the store (disk rot, a stray hand, an attacker)."""

    def replace(store: ObjectStore, key: str, data: bytes) -> None:
        if isinstance(store, LocalObjectStore):
            store.path(key).write_bytes(data)
        else:
            assert isinstance(store, S3ObjectStore)
            client = raw_client(request.getfixturevalue("seaweed"))
            client.put_object(Bucket=store.bucket, Key=store.full_key(key), Body=data)

    return replace
