"""Content-addressed file store: a file's name is the SHA-256 of its bytes.

It keeps its files in an object store (`object_store.py`): a local folder (the default) or an
S3-compatible bucket shared by every replica and worker. Keys are derived only from the hash (validated
as 64 hex characters), never from user input: ``ab/cd/<sha256>``, and data derived from a file (a
rendition) ``ab/cd/<sha256>.<name>`` beside it. Writes are all or nothing; an original is written once
and never replaced; what is read back is checked against its hash, so a file damaged where it is kept
is refused with a clear error rather than served.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imaging_ai.errors import DomainError
from imaging_ai.storage.object_store import (
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    object_store_from,
    write_atomically,
)

if TYPE_CHECKING:
    from imaging_ai.settings import Settings

__all__ = [
    "BlobIntegrityError",
    "BlobNotFoundError",
    "BlobStore",
    "StoredBlob",
    "blob_store_from",
    "write_atomically",
]

logger = logging.getLogger(__name__)

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_DERIVED_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")
IMAGES_FOLDER = "images"


class BlobNotFoundError(LookupError):
    pass


class BlobIntegrityError(DomainError):
    """What the store gave back is not the file stored under that hash (damaged or replaced)."""

    status_code = 500
    code = "image_file_corrupt"


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size_bytes: int
    created: bool
    """False when identical bytes were already stored."""


class BlobStore:
    """``BlobStore(path)``: files under a local folder; ``BlobStore(object_store, cache_dir=...)``: in any
    object store, with ``cache_dir`` where files are copied when a caller needs a local path."""

    def __init__(self, where: Path | ObjectStore, *, cache_dir: Path | None = None) -> None:
        if isinstance(where, Path):
            where = LocalObjectStore(where)
        self.objects: ObjectStore = where
        self._local = where if isinstance(where, LocalObjectStore) else None
        if self._local is None and cache_dir is None:
            raise ValueError("a BlobStore on a remote object store needs a local cache_dir")
        self.cache_dir = cache_dir

    @property
    def root(self) -> Path:
        """The folder holding the files on this machine: the store itself when local, else its cache."""
        if self._local is not None:
            return self._local.root
        assert self.cache_dir is not None
        return self.cache_dir

    @property
    def is_local(self) -> bool:
        return self._local is not None

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    @staticmethod
    def key_for(sha256: str) -> str:
        if not _SHA256_HEX.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    @classmethod
    def derived_key(cls, sha256: str, name: str) -> str:
        if not _DERIVED_NAME.match(name):
            raise ValueError("not a derived file name")
        return f"{cls.key_for(sha256)}.{name}"

    def path_for(self, sha256: str) -> Path:
        """The file's path in a local store (see `local_path` for any store)."""
        return self._local_store().path(self.key_for(sha256))

    def derived_path(self, sha256: str, name: str) -> Path:
        """Where data derived from a stored file (a rendition, say) lives in a local store: next to it,
        named by its hash and a fixed `name`, so it needs no database row and goes when the file goes."""
        return self._local_store().path(self.derived_key(sha256, name))

    def exists(self, sha256: str) -> bool:
        return self.objects.exists(self.key_for(sha256))

    def put(self, data: bytes) -> StoredBlob:
        sha256 = self.digest(data)
        created = self.objects.put_if_absent(self.key_for(sha256), data)
        return StoredBlob(sha256=sha256, size_bytes=len(data), created=created)

    def read(self, sha256: str) -> bytes:
        """The file's bytes, checked against their hash (BlobIntegrityError if they do not match)."""
        try:
            data = self.objects.get(self.key_for(sha256))
        except ObjectNotFoundError as exc:
            raise BlobNotFoundError(sha256) from exc
        self._verify(sha256, data)
        return data

    def local_path(self, sha256: str) -> Path:
        """A path to the file on this machine (training reads files by path): the file itself in a local
        store; otherwise a verified copy in the cache folder, downloaded on first use."""
        if self._local is not None:
            return self.path_for(sha256)
        assert self.cache_dir is not None
        copy = LocalObjectStore(self.cache_dir)
        key = self.key_for(sha256)
        if not copy.exists(key):
            copy.put_if_absent(key, self.read(sha256))
        return copy.path(key)

    def delete(self, sha256: str) -> None:
        """The file and everything derived from it."""
        key = self.key_for(sha256)
        for other in self.objects.list(f"{key}."):
            self.objects.delete(other)
        self.objects.delete(key)
        if self._local is None and self.cache_dir is not None:
            cached = LocalObjectStore(self.cache_dir)
            cached.delete(key)

    def put_derived(self, sha256: str, name: str, data: bytes) -> None:
        self.objects.put(self.derived_key(sha256, name), data)

    def read_derived(self, sha256: str, name: str) -> bytes | None:
        try:
            return self.objects.get(self.derived_key(sha256, name))
        except ObjectNotFoundError:
            return None

    def is_writable(self) -> bool:
        return self.objects.is_writable()

    def _local_store(self) -> LocalObjectStore:
        if self._local is None:
            raise TypeError(f"files in {self.objects.location} have no local path; use local_path()")
        return self._local

    def _verify(self, sha256: str, data: bytes) -> None:
        actual = self.digest(data)
        if actual != sha256:
            logger.error(
                "stored file does not match its hash",
                extra={"sha256": sha256, "actual_sha256": actual, "store": self.objects.location},
            )
            raise BlobIntegrityError(
                f"The stored file {sha256} is damaged: its bytes do not match its SHA-256.",
                details={"sha256": sha256},
            )


def blob_store_from(settings: Settings) -> BlobStore:
    """The deployment's image store: ``<data_dir>/images`` locally, ``<s3_prefix>images/`` on S3 (with
    local copies for training under ``<data_dir>/cache/images``)."""
    if settings.object_store == "local":
        return BlobStore(settings.images_dir)
    return BlobStore(
        object_store_from(settings, IMAGES_FOLDER), cache_dir=settings.data_dir / "cache" / IMAGES_FOLDER
    )
