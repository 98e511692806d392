"""The model store: one immutable folder per model version.

    <root>/<task>/<version>/
        weights.pt          network weights (torch state dict)
        card.json           the model card: task, labels, architecture, data, metrics, hashes...
        preprocessing.json  the exact preprocessing the weights expect

A version is written into a temporary folder and renamed into place, so a crash never leaves a
half-written version, and it is never modified afterwards. Its weights are checked against the
SHA-256 in its card every time they are loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "weights.pt"
CARD_FILE = "card.json"
PREPROCESSING_FILE = "preprocessing.json"

_VERSION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.\-]{0,126}$")


class ModelStoreError(Exception):
    """A version folder is missing, malformed, or its weights do not match their hash."""


class WeightsIntegrityError(ModelStoreError):
    pass


@dataclass(frozen=True)
class StoredVersion:
    version: str
    task: str
    path: Path
    card: dict[str, Any]
    preprocessing: dict[str, Any]

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_FILE

    @property
    def weights_sha256(self) -> str:
        return str(self.card["weights_sha256"])

    def read_verified_weights(self) -> bytes:
        """The weights' bytes, refused if they do not match the card's SHA-256."""
        try:
            data = self.weights_path.read_bytes()
        except OSError as exc:
            raise ModelStoreError(f"weights of {self.version} cannot be read") from exc
        if hashlib.sha256(data).hexdigest() != self.weights_sha256:
            raise WeightsIntegrityError(f"weights of {self.version} do not match their SHA-256")
        return data


def validate_version_name(version: str) -> str:
    if not _VERSION_PATTERN.match(version):
        raise ValueError(f"invalid version name {version!r}")
    return version


def read_version(path: Path) -> StoredVersion:
    try:
        card = json.loads((path / CARD_FILE).read_text())
        preprocessing = json.loads((path / PREPROCESSING_FILE).read_text())
        return StoredVersion(
            version=validate_version_name(card["version"]),
            task=card["task"],
            path=path,
            card=card,
            preprocessing=preprocessing,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelStoreError(f"{path.name} is not a valid model version folder") from exc


def list_versions(root: Path) -> list[StoredVersion]:
    if not root.is_dir():
        return []
    return [read_version(card.parent) for card in sorted(root.glob(f"*/*/{CARD_FILE}"))]


def write_version(
    root: Path,
    *,
    version: str,
    task: str,
    weights: bytes,
    card: dict[str, Any],
    preprocessing: dict[str, Any],
) -> StoredVersion:
    """Writes a new version atomically; the card gets the weights' SHA-256. Refuses to overwrite."""
    validate_version_name(version)
    target = root / task / version
    if target.exists():
        raise ModelStoreError(f"version {version} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    card = {**card, "version": version, "task": task, "weights_sha256": hashlib.sha256(weights).hexdigest()}
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        for name, content in (
            (WEIGHTS_FILE, weights),
            (CARD_FILE, (json.dumps(card, indent=2, sort_keys=False) + "\n").encode()),
            (PREPROCESSING_FILE, (json.dumps(preprocessing, indent=2) + "\n").encode()),
        ):
            with (staging / name).open("wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        staging.chmod(0o755)  # mkdtemp makes it private; versions are readable like any release
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_version(target)


def remove_partial_versions(root: Path) -> list[Path]:
    """Deletes staging folders left by a crash mid-write (names starting with a dot)."""
    removed = []
    for staging in root.glob("*/.*-*"):
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed
