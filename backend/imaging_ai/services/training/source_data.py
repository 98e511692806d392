"""The task's original (source-site) data, found through the lineage's root version card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from imaging_ai.ml.adaptation_data import source_test_halves
from imaging_ai.ml.base_training import split_manifest
from imaging_ai.ml.manifest import ManifestItem, read_manifest
from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.services.models.catalog import read_card


@dataclass(frozen=True)
class SourceData:
    """The source site's training images and the *gate half* of its test split. The report half is not
    here on purpose: nothing that decides (the gate, thresholds) can read it."""

    dataset: str
    train: list[ManifestItem]
    gate_test: list[ManifestItem]


def root_card(session: Session, version_id: str) -> dict[str, object] | None:
    versions = ModelVersionRepository(session)
    version = versions.get(version_id)
    if version is None:
        return None
    return read_card(([version, *versions.ancestors(version)])[-1])


def source_data(session: Session, task: TaskSpec, version_id: str, datasets_dir: Path) -> SourceData | None:
    """The root version's training and test items, re-split exactly as at base training; None if absent."""
    card = root_card(session, version_id)
    if card is None:
        return None
    training_data = card.get("training_data")
    training = card.get("training")
    if not isinstance(training_data, dict) or not isinstance(training, dict):
        return None
    dataset = training_data["datasets"][0]
    manifest = datasets_dir / dataset / training_data.get("manifest", "manifest.csv")
    if not manifest.is_file():
        return None
    seed = int(training.get("params", {}).get("seed", 0))
    split = split_manifest(
        read_manifest(manifest, labels=task.labels),
        validation_fraction=float(training_data.get("validation_fraction", 0.1)),
        test_fraction=float(training_data.get("test_fraction", 0.15)),
        seed=seed,
    )
    gate, _report = source_test_halves(split.test)
    return SourceData(dataset=dataset, train=split.train, gate_test=gate)
