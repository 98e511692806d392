"""The model store: immutable, atomic, hash-checked versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaging_ai.storage.model_store import (
    ModelStoreError,
    WeightsIntegrityError,
    list_versions,
    read_version,
    remove_partial_versions,
    write_version,
)


def _write(root: Path, version: str = "demo.v1") -> None:
    write_version(
        root,
        version=version,
        task="demo",
        weights=b"weights-bytes",
        card={"architecture": "x", "calibration": {"temperature": 1.0}},
        preprocessing={"input_size": 8, "mean": 0.5, "std": 0.25},
    )


def test_written_version_reads_back_with_its_hash(tmp_path: Path) -> None:
    _write(tmp_path)
    [stored] = list_versions(tmp_path)
    assert stored.version == "demo.v1" and stored.task == "demo"
    assert stored.read_verified_weights() == b"weights-bytes"
    assert len(stored.weights_sha256) == 64


def test_versions_are_never_overwritten(tmp_path: Path) -> None:
    _write(tmp_path)
    with pytest.raises(ModelStoreError):
        _write(tmp_path)


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    _write(tmp_path)
    stored = read_version(tmp_path / "demo" / "demo.v1")
    stored.weights_path.write_bytes(b"weights-bytez")
    with pytest.raises(WeightsIntegrityError):
        stored.read_verified_weights()


@pytest.mark.parametrize("name", ["../escape", "UPPER", "", "a/b", "x" * 200])
def test_version_names_are_validated(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        _write(tmp_path, name)


def test_staging_folders_left_by_a_crash_are_removed(tmp_path: Path) -> None:
    _write(tmp_path)
    partial = tmp_path / "demo" / ".demo.v2-abc123"
    partial.mkdir()
    (partial / "weights.pt").write_bytes(b"half")
    assert remove_partial_versions(tmp_path) == [partial]
    assert not partial.exists()
    assert [v.version for v in list_versions(tmp_path)] == ["demo.v1"]
