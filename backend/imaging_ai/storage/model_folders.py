"""Model versions trained at run time, on the local disk or in the object store, as folders to load.

A version's ``store_path`` (in the database) is either a local folder (the shipped versions in
``model_store/``, and trained versions with ``object_store = "local"``) or, with ``object_store =
"s3"``, ``s3://<bucket>/<prefix>models/<task>/<version>``: the folder's files uploaded under that key
prefix, the card last, so a version without its card was never finished and is never loaded.

`model_folder(store_path)` turns either into a local folder for `read_version`: a remote version is
downloaded whole into a staging folder beside the cache (``<data_dir>/cache/models/<task>/<version>``),
its weights and listed files checked against the card's SHA-256, then renamed into place, so a half
download or a tampered file is never used; `read_version`/`load_model` check the hashes again on every
load. The cache keeps the most recently used versions (`CACHE_VERSIONS`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imaging_ai.settings import Settings, get_settings
from imaging_ai.storage.model_store import (
    CARD_FILE,
    FILES_KEY,
    PREPROCESSING_FILE,
    WEIGHTS_FILE,
    ModelStoreError,
    StoredVersion,
    WeightsIntegrityError,
    read_version,
    validate_extra_name,
    validate_version_name,
    write_version,
)
from imaging_ai.storage.object_store import (
    ObjectNotFoundError,
    ObjectStoreError,
    S3Location,
    S3ObjectStore,
    s3_store_from,
    validate_key,
)

logger = logging.getLogger(__name__)

MODELS_FOLDER = "models"
CACHE_VERSIONS = 16
"""Remote versions kept downloaded per machine (least recently used go first)."""
CACHE_GRACE_S = 300.0
"""A cached version used this recently is never evicted (another process may be reading it)."""
REMOTE_SCHEME = "s3://"


def is_remote(store_path: str) -> bool:
    return store_path.startswith(REMOTE_SCHEME)


class ModelFolders:
    """Publishes trained versions to, and materialises them from, the deployment's object store."""

    def __init__(self, settings: Settings, *, capacity: int = CACHE_VERSIONS) -> None:
        self.settings = settings
        self.cache_dir = settings.data_dir / "cache" / MODELS_FOLDER
        self.capacity = capacity
        self._lock = threading.Lock()

    @property
    def remote(self) -> bool:
        return self.settings.object_store == "s3"

    def _bucket(self, bucket: str | None = None) -> S3ObjectStore:
        shared = s3_store_from(self.settings)
        return S3ObjectStore(shared.client, bucket or shared.bucket)

    # --- writing (the training worker) ------------------------------------------------------------

    def write_trained_version(self, **version: Any) -> tuple[StoredVersion, str]:
        """Writes a trained version (`write_version`'s keyword arguments) where the deployment keeps
        them; returns it (readable locally) and the ``store_path`` to record."""
        if not self.remote:
            stored = write_version(self.settings.trained_models_dir, **version)
            return stored, str(stored.path)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging_root = Path(tempfile.mkdtemp(prefix=".publish-", dir=self.cache_dir))
        try:
            written = write_version(staging_root, **version)
            store_path = self.publish(written)
            target = self._cache_folder(written.task, written.version)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                written.path.rename(target)
            except OSError:  # already materialised by another process: the same verified files
                if not (target / CARD_FILE).is_file():
                    raise
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)
        return read_version(target), store_path

    def publish(self, stored: StoredVersion) -> str:
        """Uploads a version folder; the card last, and never over an existing card (versions are
        immutable). Returns its ``s3://`` store path."""
        bucket = self._bucket()
        key = f"{s3_store_from(self.settings).prefix}{MODELS_FOLDER}/{stored.task}/{stored.version}"
        validate_key(key)
        if bucket.exists(f"{key}/{CARD_FILE}"):
            raise ModelStoreError(f"version {stored.version} already exists in {bucket.location}")
        names = [WEIGHTS_FILE, PREPROCESSING_FILE, *stored.card.get(FILES_KEY, {})]
        for name in names:
            bucket.put(f"{key}/{name}", (stored.path / name).read_bytes())
        if not bucket.put_if_absent(f"{key}/{CARD_FILE}", (stored.path / CARD_FILE).read_bytes()):
            raise ModelStoreError(f"version {stored.version} already exists in {bucket.location}")
        return f"{REMOTE_SCHEME}{bucket.bucket}/{key}"

    def remove_remote_versions(self, should_go: Callable[[dict[str, Any]], bool]) -> list[str]:
        """Deletes the published versions whose card ``should_go`` says (a version uploaded by a job
        that was abandoned before registering it); the card goes first, so a version is never left
        half there with a card. Returns their store paths."""
        if not self.remote:
            return []
        shared = s3_store_from(self.settings)
        bucket = self._bucket()
        root = f"{shared.prefix}{MODELS_FOLDER}/"
        removed = []
        for card_key in [key for key in bucket.list(root) if key.endswith(f"/{CARD_FILE}")]:
            try:
                card = json.loads(bucket.get(card_key))
            except (ObjectNotFoundError, ValueError):
                continue
            if not isinstance(card, dict) or not should_go(card):
                continue
            folder = card_key.removesuffix(CARD_FILE)
            bucket.delete(card_key)
            for key in bucket.list(folder):
                bucket.delete(key)
            removed.append(f"{REMOTE_SCHEME}{bucket.bucket}/{folder.rstrip('/')}")
        return removed

    # --- reading (every process) ------------------------------------------------------------------

    def local_folder(self, store_path: str) -> Path:
        if not is_remote(store_path):
            return Path(store_path)
        try:
            location = S3Location.parse(store_path.rstrip("/"))
            *_, task, version = location.key.split("/")
            validate_key(location.key)
            validate_version_name(version)
            validate_key(task)
        except ValueError as exc:
            raise ModelStoreError(f"{store_path} is not a model version address") from exc
        target = self._cache_folder(task, version)
        if (target / CARD_FILE).is_file():
            _touch(target)
            return target
        with self._lock:  # one download per version at a time in this process
            if not (target / CARD_FILE).is_file():
                self._download(location, target)
        self._evict(keep=target)
        return target

    def _cache_folder(self, task: str, version: str) -> Path:
        return self.cache_dir / validate_key(task) / validate_version_name(version)

    def _download(self, location: S3Location, target: Path) -> None:
        bucket = self._bucket(location.bucket)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            card_bytes = bucket.get(f"{location.key}/{CARD_FILE}")
            card = json.loads(card_bytes)
            expected = {WEIGHTS_FILE: str(card["weights_sha256"])}
            expected.update({validate_extra_name(n): str(h) for n, h in card.get(FILES_KEY, {}).items()})
            for name in [*expected, PREPROCESSING_FILE]:
                data = bucket.get(f"{location.key}/{name}")
                if name in expected and hashlib.sha256(data).hexdigest() != expected[name]:
                    raise WeightsIntegrityError(f"{name} of {target.name} does not match its SHA-256")
                _write_synced(staging / name, data)
            _write_synced(staging / CARD_FILE, card_bytes)
            staging.chmod(0o755)
            try:
                staging.rename(target)
            except OSError:  # another process finished the same download first
                if not (target / CARD_FILE).is_file():
                    raise
        except ObjectNotFoundError as exc:
            raise ModelStoreError(f"{location} is missing {exc.args[0]}") from exc
        except ObjectStoreError as exc:
            raise ModelStoreError(f"{location} cannot be read: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelStoreError(f"{location} is not a valid model version") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _evict(self, keep: Path) -> None:
        folders = [
            folder
            for folder in self.cache_dir.glob("*/*")
            if folder.is_dir() and not folder.name.startswith(".") and not folder.parent.name.startswith(".")
        ]
        if len(folders) <= self.capacity:
            return
        now = time.time()
        by_age = sorted(folders, key=_mtime)
        for folder in by_age[: len(folders) - self.capacity]:
            if folder == keep or now - _mtime(folder) < CACHE_GRACE_S:
                continue
            doomed = folder.with_name(f".evicted-{folder.name}-{os.getpid()}")
            try:
                folder.rename(doomed)  # gone at once for readers, then removed
            except OSError:
                continue
            shutil.rmtree(doomed, ignore_errors=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _write_synced(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o644)


_configured: ModelFolders | None = None
_configure_lock = threading.Lock()


def configure_model_folders(settings: Settings) -> ModelFolders:
    """Sets the process's model folders (the app and the worker call it at start-up)."""
    global _configured
    with _configure_lock:
        _configured = ModelFolders(settings)
        return _configured


def model_folders() -> ModelFolders:
    global _configured
    with _configure_lock:
        if _configured is None:
            _configured = ModelFolders(get_settings())
        return _configured


def model_folder(store_path: str) -> Path:
    """The local folder of a version's ``store_path``: itself when local, else the downloaded copy."""
    if not is_remote(store_path):
        return Path(store_path)
    return model_folders().local_folder(store_path)
