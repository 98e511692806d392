"""Versions trained at run time, kept in the object store: written once, loaded anywhere, hash-checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from imaging_ai.ml.runtime import ModelRuntime, ModelUnavailableError
from imaging_ai.settings import PROJECT_ROOT, Settings
from imaging_ai.storage.model_folders import ModelFolders, configure_model_folders, model_folder
from imaging_ai.storage.model_store import (
    FEATURE_DENSITY_FILE,
    WEIGHTS_FILE,
    ModelStoreError,
    WeightsIntegrityError,
    read_version,
)
from imaging_ai.storage.object_store import S3Location
from tests.storage.conftest import raw_client
from tests.storage.seaweed import SeaweedS3

SHIPPED = PROJECT_ROOT / "model_store" / "chest-xray-pneumonia" / "chest-xray-pneumonia.v1"


def _write(folders: ModelFolders, version: str, weights: bytes = b"weights") -> tuple[Path, str]:
    stored, store_path = folders.write_trained_version(
        version=version,
        task="chest-xray-pneumonia",
        weights=weights,
        card={"architecture": "test", "parent_version": "chest-xray-pneumonia.v1"},
        preprocessing={"input_size": 8},
        extras={FEATURE_DENSITY_FILE: b"density"},
    )
    return stored.path, store_path


def _elsewhere(settings: Settings, tmp_path: Path, name: str) -> ModelFolders:
    """Another machine: the same bucket, its own (empty) cache."""
    return ModelFolders(settings.model_copy(update={"data_dir": tmp_path / name}))


def test_local_deployments_keep_plain_folders(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    path, store_path = _write(ModelFolders(settings), "chest-xray-pneumonia.v7")
    assert store_path == str(settings.trained_models_dir / "chest-xray-pneumonia" / "chest-xray-pneumonia.v7")
    assert model_folder(store_path) == path == Path(store_path)
    assert model_folder(str(SHIPPED)) == SHIPPED


def test_version_written_to_s3_loads_elsewhere_hash_checked(s3_settings: Settings, tmp_path: Path) -> None:
    writer = ModelFolders(s3_settings)
    _, store_path = _write(writer, "chest-xray-pneumonia.v2", b"trained weights")
    prefix = f"{s3_settings.s3_prefix}/models/chest-xray-pneumonia/chest-xray-pneumonia.v2"
    assert store_path == f"s3://{s3_settings.s3_bucket}/{prefix}"
    assert not s3_settings.trained_models_dir.exists()  # nothing kept as the local copy of record

    reader = _elsewhere(s3_settings, tmp_path, "other-machine")
    folder = reader.local_folder(store_path)
    assert folder.parent.parent == reader.cache_dir
    stored = read_version(folder)
    assert stored.read_verified_weights() == b"trained weights"
    assert stored.read_verified_extra(FEATURE_DENSITY_FILE) == b"density"
    assert reader.local_folder(store_path) == folder  # cached: no second download
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging left

    with pytest.raises(ModelStoreError, match="already exists"):
        _write(writer, "chest-xray-pneumonia.v2", b"other weights")  # versions are immutable


def test_tampered_or_unfinished_versions_are_refused(
    s3_settings: Settings, s3_credentials: SeaweedS3, tmp_path: Path
) -> None:
    _, store_path = _write(ModelFolders(s3_settings), "chest-xray-pneumonia.v3")
    location = S3Location.parse(store_path)
    client = raw_client(s3_credentials)
    client.put_object(Bucket=location.bucket, Key=f"{location.key}/{WEIGHTS_FILE}", Body=b"swapped")
    reader = _elsewhere(s3_settings, tmp_path, "tampered")
    with pytest.raises(WeightsIntegrityError):
        reader.local_folder(store_path)
    assert not any(p.is_dir() and not p.name.startswith(".") for p in reader.cache_dir.glob("*/*"))

    client.delete_object(Bucket=location.bucket, Key=f"{location.key}/card.json")  # as a crash mid-upload
    with pytest.raises(ModelStoreError):
        reader.local_folder(store_path)
    with pytest.raises(ModelStoreError):
        reader.local_folder("s3://bucket-only")


def test_runtime_serves_a_version_from_s3_and_refuses_a_tampered_one(
    s3_settings: Settings, s3_credentials: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = json.loads((SHIPPED / "card.json").read_text())
    preprocessing = json.loads((SHIPPED / "preprocessing.json").read_text())
    writer = ModelFolders(s3_settings)
    versions = {}
    for name in ("chest-xray-pneumonia.v4", "chest-xray-pneumonia.v5"):
        _, versions[name] = writer.write_trained_version(
            version=name,
            task="chest-xray-pneumonia",
            weights=(SHIPPED / WEIGHTS_FILE).read_bytes(),
            card=card,
            preprocessing=preprocessing,
        )
    bad = S3Location.parse(versions["chest-xray-pneumonia.v5"])
    raw_client(s3_credentials).put_object(
        Bucket=bad.bucket, Key=f"{bad.key}/{WEIGHTS_FILE}", Body=(SHIPPED / WEIGHTS_FILE).read_bytes()[:-1]
    )
    shutil.rmtree(writer.cache_dir)  # a fresh serving machine
    monkeypatch.setattr("imaging_ai.storage.model_folders._configured", None)  # restored afterwards
    configure_model_folders(s3_settings)
    runtime = ModelRuntime(2, max_batch=1)
    model = runtime.version("chest-xray-pneumonia.v4", versions["chest-xray-pneumonia.v4"])
    size = model.preprocessing.input_size
    probabilities = model.predict(torch.zeros(1, 1, size, size))
    assert probabilities.shape == (1, 2)
    with pytest.raises(ModelUnavailableError):
        runtime.version("chest-xray-pneumonia.v5", versions["chest-xray-pneumonia.v5"])


def test_versions_of_abandoned_jobs_are_removed_from_the_bucket(s3_settings: Settings) -> None:
    folders = ModelFolders(s3_settings)
    kept, dropped = (
        folders.write_trained_version(
            version=name,
            task="chest-xray-pneumonia",
            weights=b"w",
            card={"training_job": job},
            preprocessing={},
        )[1]
        for name, job in (("chest-xray-pneumonia.v8", "job-a"), ("chest-xray-pneumonia.v9", "job-b"))
    )
    removed = folders.remove_remote_versions(lambda card: card.get("training_job") == "job-b")
    assert removed == [dropped]
    bucket = S3Location.parse(kept)
    listing = raw_bucket_keys(folders, bucket.key.rsplit("/", 1)[0])
    assert any(key.startswith(bucket.key + "/") for key in listing)
    assert not any(key.startswith(S3Location.parse(dropped).key + "/") for key in listing)


def raw_bucket_keys(folders: ModelFolders, prefix: str) -> list[str]:
    from imaging_ai.storage.object_store import S3ObjectStore, s3_store_from

    shared = s3_store_from(folders.settings)
    return S3ObjectStore(shared.client, shared.bucket).list(prefix + "/")
