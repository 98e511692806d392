"""Where bytes are kept: a folder on the local file system, or an S3-compatible object store.

Both behave the same to their callers (the image store, the heatmap cache, trained model versions):

- keys are relative, slash-separated names (``ab/cd/<sha256>``), checked so that none escapes the store;
- a write is all or nothing: the local store writes a temporary file, fsyncs and renames it; an S3 PUT
  is atomic (single request, never multipart at these sizes), so a failed write leaves nothing;
- ``put_if_absent`` never replaces an existing object (content-addressed keys are written once): the
  local store links the finished file into place, which fails if a file is there; S3 asks with
  ``If-None-Match: *`` (after a HEAD that saves the upload when the key is known).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from imaging_ai.settings import Settings

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


class ObjectNotFoundError(LookupError):
    """No object under that key."""


class ObjectStoreError(OSError):
    """The store could not be reached or refused the request."""


def validate_key(key: str) -> str:
    if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")) or len(key) > 900:
        raise ValueError(f"not a valid object key: {key!r}")
    return key


class ObjectStore(Protocol):
    """What the stores of images, heatmaps and model versions need from where bytes live."""

    @property
    def location(self) -> str:
        """Where it is, for messages and logs (a folder, or ``s3://bucket/prefix``)."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Writes (or replaces) the object, all or nothing."""
        ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Writes the object unless the key exists; True if this call wrote it."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectNotFoundError if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Removes the object; nothing if there is none."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix`` (a plain string prefix, not only a folder), sorted."""
        ...

    def is_writable(self) -> bool: ...


class LocalObjectStore:
    """Objects as files under ``root`` (the key is the relative path)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put(self, key: str, data: bytes) -> None:
        write_atomically(self.path(key), data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = self.path(key)
        if target.is_file():
            return False
        return write_atomically(target, data, replace=False)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError(key) from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        folder = prefix.rpartition("/")[0]
        base = self.root / validate_key(folder) if folder else self.root
        if not base.is_dir():
            return []
        keys = []
        for path in _files_under(base):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix) and not path.name.startswith(".tmp-"):
                keys.append(key)
        return sorted(keys)

    def is_writable(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError:
            return False
        return True


def _files_under(base: Path) -> Iterator[Path]:
    for directory, _, files in os.walk(base):
        for name in files:
            yield Path(directory) / name


class S3ObjectStore:
    """Objects in one bucket of an S3-compatible store (AWS S3, SeaweedFS, MinIO), under ``prefix``."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def connect(
        cls,
        *,
        endpoint_url: str | None,
        bucket: str,
        region: str,
        prefix: str = "",
        create_bucket: bool = True,
    ) -> S3ObjectStore:
        """A client for the endpoint (credentials from the standard AWS environment variables or
        files); creates the bucket when it is missing."""
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=32,
                s3={"addressing_style": "path"},
            ),
        )
        store = cls(client, bucket, prefix)
        if create_bucket:
            store.ensure_bucket(region)
        return store

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def full_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def ensure_bucket(self, region: str) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _status(exc) not in {404, 400} and _code(exc) not in {"404", "NoSuchBucket"}:
                raise ObjectStoreError(f"bucket {self.bucket} cannot be reached: {exc}") from exc
        arguments: dict[str, Any] = {"Bucket": self.bucket}
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**arguments)
        except ClientError as exc:  # another process may have created it meanwhile
            if _code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise ObjectStoreError(f"bucket {self.bucket} cannot be created: {exc}") from exc

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.full_key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise ObjectStoreError(f"{key} cannot be written to {self.location}: {exc}") from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.exists(key):
            return False
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.full_key(key), Body=data, IfNoneMatch="*")
        except ClientError as exc:
            # 412: the key exists; 409: a concurrent conditional write of it is in flight (AWS).
            if _status(exc) in {409, 412} or _code(exc) in {
                "PreconditionFailed",
                "ConditionalRequestConflict",
            }:
                return False
            raise ObjectStoreError(f"{key} cannot be written to {self.location}: {exc}") from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"{key} cannot be written to {self.location}: {exc}") from exc
        return True

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))
            data: bytes = response["Body"].read()
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404"} or _status(exc) == 404:
                raise ObjectNotFoundError(key) from exc
            raise ObjectStoreError(f"{key} cannot be read from {self.location}: {exc}") from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"{key} cannot be read from {self.location}: {exc}") from exc
        expected = response.get("ContentLength")
        if expected is not None and expected != len(data):
            raise ObjectStoreError(f"{key}: {len(data)} of {expected} bytes read from {self.location}")
        return data

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise ObjectStoreError(f"{key} cannot be looked up in {self.location}: {exc}") from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"{key} cannot be looked up in {self.location}: {exc}") from exc
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.full_key(key))
        except (ClientError, BotoCoreError) as exc:
            raise ObjectStoreError(f"{key} cannot be deleted from {self.location}: {exc}") from exc

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise ObjectStoreError(f"{self.location}{prefix} cannot be listed: {exc}") from exc
        return sorted(keys)

    def is_writable(self) -> bool:
        try:
            self.put(".probe", b"")
        except ObjectStoreError:
            return False
        return True


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


@dataclass(frozen=True)
class S3Location:
    """An ``s3://bucket/key`` address."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith("s3://"):
            raise ValueError(f"not an s3:// address: {url!r}")
        bucket, _, key = url[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ValueError(f"not an s3://bucket/key address: {url!r}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def s3_store_from(settings: Settings) -> S3ObjectStore:
    """The deployment's bucket (one client per process and endpoint; the bucket is created if missing)."""
    return _connected(
        settings.s3_endpoint_url,
        settings.s3_bucket,
        settings.s3_region,
        normalised_prefix(settings.s3_prefix),
    )


@lru_cache(maxsize=8)
def _connected(endpoint_url: str | None, bucket: str, region: str, prefix: str) -> S3ObjectStore:
    return S3ObjectStore.connect(endpoint_url=endpoint_url, bucket=bucket, region=region, prefix=prefix)


def normalised_prefix(prefix: str) -> str:
    """``deployment-a`` and ``deployment-a/`` name the same folder of the bucket."""
    prefix = prefix.strip("/")
    return f"{validate_key(prefix)}/" if prefix else ""


def object_store_from(settings: Settings, folder: str) -> ObjectStore:
    """One of the deployment's stores: locally ``<data_dir>/<folder>``, on S3 ``<prefix><folder>/``."""
    validate_key(folder)
    if settings.object_store == "s3":
        shared = s3_store_from(settings)
        return S3ObjectStore(shared.client, shared.bucket, f"{shared.prefix}{folder}/")
    return LocalObjectStore(settings.data_dir / folder)


def write_atomically(target: Path, data: bytes, *, replace: bool = True) -> bool:
    """Temporary file in the target's folder, fsync, rename, fsync of the folder: all or nothing.

    With ``replace=False`` the finished file is linked into place instead, which fails when a file is
    already there (returns False; that file is left as it was)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    temporary = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            temporary.replace(target)
        else:
            try:
                os.link(temporary, target)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: rename (same bytes when content-addressed)
                if target.exists():
                    return False
                temporary.replace(target)
            finally:
                temporary.unlink(missing_ok=True)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
