"""Content-addressed file store: a file's name is the SHA-256 of its bytes.

Paths are derived only from the hash (validated as 64 hex characters), never from user input.
Writes are atomic (temporary file in the same directory, fsync, rename, fsync of the directory), so a
crash leaves either the whole file or nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_DERIVED_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")


class BlobNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size_bytes: int
    created: bool
    """False when identical bytes were already stored."""


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def path_for(self, sha256: str) -> Path:
        if not _SHA256_HEX.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, data: bytes) -> StoredBlob:
        sha256 = self.digest(data)
        target = self.path_for(sha256)
        if target.is_file():
            return StoredBlob(sha256=sha256, size_bytes=len(data), created=False)
        write_atomically(target, data)
        return StoredBlob(sha256=sha256, size_bytes=len(data), created=True)

    def read(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(sha256) from exc

    def delete(self, sha256: str) -> None:
        """The file and everything derived from it."""
        path = self.path_for(sha256)
        for derived in path.parent.glob(f"{sha256}.*"):
            derived.unlink(missing_ok=True)
        path.unlink(missing_ok=True)

    def derived_path(self, sha256: str, name: str) -> Path:
        """Where data derived from a stored file (a rendition, say) lives: next to it, named by its
        hash and a fixed `name`, so it needs no database row and goes when the file goes."""
        if not _DERIVED_NAME.match(name):
            raise ValueError("not a derived file name")
        return self.path_for(sha256).with_name(f"{sha256}.{name}")

    def put_derived(self, sha256: str, name: str, data: bytes) -> None:
        write_atomically(self.derived_path(sha256, name), data)

    def read_derived(self, sha256: str, name: str) -> bytes | None:
        try:
            return self.derived_path(sha256, name).read_bytes()
        except FileNotFoundError:
            return None

    def is_writable(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError:
            return False
        return True


def write_atomically(target: Path, data: bytes) -> None:
    """Temporary file in the target's folder, fsync, rename, fsync of the folder: all or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
