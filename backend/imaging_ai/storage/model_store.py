"""The model store: one immutable folder per model version.

    <root>/<task>/<version>/
        weights.pt          network weights (torch state dict)
        card.json           the model card: task, labels, architecture, data, metrics, hashes...
        preprocessing.json  the exact preprocessing the weights expect
        feature_density.npz (optional) the density of the training images' features (ml/feature_density)

A version is written into a temporary folder and renamed into place, so a crash never leaves a
half-written version, and it is never modified afterwards. Its weights are checked against the
SHA-256 in its card every time they are loaded, and so is every other file the card lists under
``files``.

The one exception to immutability is `attach_derived_file`: a file computed from the version's own
weights and its training data (the feature density) may be added to a version written before such
files existed. The weights, their hash and everything else in the card stay as they were.
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
FEATURE_DENSITY_FILE = "feature_density.npz"
FILES_KEY = "files"
"""The card's map of extra file name to SHA-256: a file it does not list is not part of the version."""
_RESERVED = frozenset({WEIGHTS_FILE, CARD_FILE, PREPROCESSING_FILE})
_EXTRA_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,62}$")

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

    def read_verified_extra(self, name: str) -> bytes | None:
        """An extra file's bytes, refused if they do not match the card's SHA-256; None if the card
        lists no such file (a file lying in the folder that the card does not list is ignored)."""
        expected = self.card.get(FILES_KEY, {}).get(name)
        if expected is None:
            return None
        try:
            data = (self.path / validate_extra_name(name)).read_bytes()
        except OSError as exc:
            raise ModelStoreError(f"{name} of {self.version} cannot be read") from exc
        if hashlib.sha256(data).hexdigest() != expected:
            raise WeightsIntegrityError(f"{name} of {self.version} does not match its SHA-256")
        return data


def validate_version_name(version: str) -> str:
    if not _VERSION_PATTERN.match(version):
        raise ValueError(f"invalid version name {version!r}")
    return version


def validate_extra_name(name: str) -> str:
    if name in _RESERVED or not _EXTRA_NAME_PATTERN.match(name):
        raise ValueError(f"invalid extra file name {name!r}")
    return name


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
    extras: dict[str, bytes] | None = None,
) -> StoredVersion:
    """Writes a new version atomically; the card gets the weights' SHA-256 and each extra file's under
    ``files``. Refuses to overwrite."""
    validate_version_name(version)
    extras = {validate_extra_name(name): content for name, content in (extras or {}).items()}
    target = root / task / version
    if target.exists():
        raise ModelStoreError(f"version {version} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A card copied from another version must not vouch for files this one does not have.
    card = {key: value for key, value in card.items() if key != FILES_KEY}
    card.update(version=version, task=task, weights_sha256=hashlib.sha256(weights).hexdigest())
    if extras:
        card[FILES_KEY] = {name: hashlib.sha256(content).hexdigest() for name, content in extras.items()}
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        for name, content in (
            (WEIGHTS_FILE, weights),
            (CARD_FILE, _card_bytes(card)),
            (PREPROCESSING_FILE, (json.dumps(preprocessing, indent=2) + "\n").encode()),
            *extras.items(),
        ):
            _write_synced(staging / name, content)
        staging.chmod(0o755)  # mkdtemp makes it private; versions are readable like any release
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_version(target)


def attach_derived_file(
    path: Path, name: str, content: bytes, *, card_fields: dict[str, Any] | None = None
) -> StoredVersion:
    """Adds (or replaces) a file derived from a version's weights and training data, recording its
    SHA-256 in the card's ``files`` (and ``card_fields`` at the card's top level).

    The documented exception to immutability (see the module docstring): the weights are read and
    verified first and are never touched. The file is renamed into place before the card that lists
    it, so an interruption leaves either the old state or a file the card does not list yet (ignored
    on loading; rerun to finish) -- except when replacing a listed file, where it leaves a hash
    mismatch that refuses the file until the command is rerun.
    """
    stored = read_version(path)
    stored.read_verified_weights()
    validate_extra_name(name)
    if card_fields and {"version", "task", "weights_sha256", FILES_KEY} & set(card_fields):
        raise ValueError("card_fields may not change the version's identity or its hashes")
    card = {**stored.card, **(card_fields or {})}
    card[FILES_KEY] = {**card.get(FILES_KEY, {}), name: hashlib.sha256(content).hexdigest()}
    for target, data in ((path / name, content), (path / CARD_FILE, _card_bytes(card))):
        temporary = target.with_name(f".{target.name}.tmp")
        _write_synced(temporary, data)
        temporary.chmod(0o644)
        temporary.replace(target)
    return read_version(path)


def _card_bytes(card: dict[str, Any]) -> bytes:
    return (json.dumps(card, indent=2, sort_keys=False) + "\n").encode()


def _write_synced(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def remove_partial_versions(root: Path) -> list[Path]:
    """Deletes staging folders left by a crash mid-write (names starting with a dot)."""
    removed = []
    for staging in root.glob("*/.*-*"):
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed
