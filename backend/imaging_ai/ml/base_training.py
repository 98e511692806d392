"""Training a base model version for a task from a manifest, end to end, with its model card."""

from __future__ import annotations

import logging
import platform
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imaging_ai.ml.adaptation_data import source_test_halves
from imaging_ai.ml.architectures import build_network
from imaging_ai.ml.calibration import fit_temperature
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.device import CPU, describe
from imaging_ai.ml.evaluation import evaluate_image_set, evaluate_probabilities, served_at_threshold
from imaging_ai.ml.loading import LoadedModel, model_from_weights, serialise_weights
from imaging_ai.ml.manifest import ManifestItem, group_key, read_manifest, stable_fraction
from imaging_ai.ml.metrics import expected_calibration_error
from imaging_ai.ml.operating_point import choose_threshold_confidently
from imaging_ai.ml.preprocessing import ModalityWindow, PreprocessingSpec
from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.ml.training import EpochRecord, TrainingParams, predict_logits, train_network
from imaging_ai.storage.model_store import StoredVersion, write_version

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataSplit:
    train: list[ManifestItem]
    validation: list[ManifestItem]
    test: list[ManifestItem]
    rule: str


def split_manifest(
    items: Sequence[ManifestItem], *, validation_fraction: float, test_fraction: float, seed: int
) -> DataSplit:
    """Uses the manifest's own train/test split when it has one; otherwise a seeded split.

    Validation is carved out of train by patient when patient ids exist (a patient never crosses
    the split), else by image.
    """
    has_split = any(item.split == "train" for item in items)
    if has_split:
        pool = [item for item in items if item.split == "train"]
        test = [item for item in items if item.split == "test"]
        rule = "manifest split: train -> train/validation, test -> test"
    else:
        test = [item for item in items if stable_fraction(group_key(item), seed) < test_fraction]
        pool = [item for item in items if stable_fraction(group_key(item), seed) >= test_fraction]
        rule = f"seeded split (seed {seed}): {test_fraction:.0%} test"
    validation = [item for item in pool if stable_fraction(group_key(item), seed + 1) < validation_fraction]
    train = [item for item in pool if stable_fraction(group_key(item), seed + 1) >= validation_fraction]
    by = "patient" if all(item.patient_id for item in items) else "image (no patient ids)"
    rule += f"; {validation_fraction:.0%} of train held out for validation, grouped by {by}"
    return DataSplit(train=train, validation=validation, test=test, rule=rule)


def train_base_version(
    task: TaskSpec,
    manifest: Path,
    *,
    store_root: Path,
    version: str,
    params: TrainingParams,
    external_sets: dict[str, Path] | None = None,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.15,
    notes: Sequence[str] = (),
    served_sensitivity: float | None = None,
    device: torch.device = CPU,
    mixed_precision: bool = False,
) -> StoredVersion:
    """Trains on ``device`` (float16 autocast there when ``mixed_precision`` and it is a GPU); the
    weights are stored from the CPU, and calibration and metrics are computed in float32.

    ``served_sensitivity`` (two-label tasks): give the version an operating point, chosen on the gate
    half of the source test split so that the sensitivity's 95% lower bound there reaches it, and
    report it served on the report half, which nothing else reads."""
    torch.manual_seed(params.seed)
    items = read_manifest(manifest, labels=task.labels)
    split = split_manifest(
        items, validation_fraction=validation_fraction, test_fraction=test_fraction, seed=params.seed
    )
    if served_sensitivity is not None and task.positive_label is not None:
        # Checked before training, not after it: the threshold is chosen on the gate half.
        for half, rows in zip(("gate", "report"), source_test_halves(split.test), strict=True):
            missing = set(task.labels) - {item.label for item in rows}
            if missing:
                raise ValueError(
                    f"the {half} half of the test split has no {', '.join(sorted(missing))} case: "
                    "an operating point cannot be chosen or reported (try another --seed)"
                )
    window = ModalityWindow(task.modality, *task.modality_window) if task.modality_window else None
    preprocessing = PreprocessingSpec(
        input_size=params.input_size, mean=0.5, std=0.25, modality_window=window
    )
    logger.info("loading images", extra={"train": len(split.train), "validation": len(split.validation)})
    train_set = load_image_set(split.train, task.labels, params.input_size, window=window)
    validation_set = load_image_set(split.validation, task.labels, params.input_size, window=window)
    positive = task.label_index(task.positive_label) if task.positive_label else None

    def report(record: EpochRecord) -> None:
        logger.info("epoch", extra=asdict(record))

    network = build_network(params.architecture, len(task.labels))
    result = train_network(
        network,
        train_set,
        validation_set,
        params=params,
        preprocessing=preprocessing,
        num_classes=len(task.labels),
        positive_index=positive,
        on_epoch=report,
        device=device,
        mixed_precision=mixed_precision,
    )

    val_logits = predict_logits(result.network, validation_set.images, preprocessing)
    temperature = fit_temperature(val_logits, validation_set.labels)
    val_labels = validation_set.labels.numpy()
    ece_before = expected_calibration_error(torch.softmax(val_logits, 1).numpy(), val_labels)
    ece_after = expected_calibration_error(torch.softmax(val_logits / temperature, 1).numpy(), val_labels)

    card: dict[str, Any] = {
        "labels": list(task.labels),
        "modality": task.modality,
        "architecture": params.architecture,
        "input": {"size": params.input_size, "channels": 1, "normalisation": {"mean": 0.5, "std": 0.25}},
        "training_data": {
            "datasets": [manifest.parent.name],
            "manifest": manifest.name,
            "sites": sorted({item.site for item in split.train}),
            "counts_per_label": {
                "train": dict(Counter(item.label for item in split.train)),
                "validation": dict(Counter(item.label for item in split.validation)),
                "test": dict(Counter(item.label for item in split.test)),
            },
            "split_rule": split.rule,
        },
        "parent_version": None,
        "training_job": None,
        "training": {
            "params": _jsonable(asdict(params)),
            "history": [asdict(record) for record in result.history],
            "best_epoch": result.best_epoch,
            "seconds": round(result.seconds, 1),
            "hardware": f"{platform.machine()}, {describe(device)}",
            "mixed_precision": device.type == "cuda" and mixed_precision,
            "torch": torch.__version__,
        },
        "calibration": {
            "method": "temperature scaling on the validation part",
            "temperature": round(temperature, 4),
            "ece_before": round(ece_before, 4),
            "ece_after": round(ece_after, 4),
        },
        "metrics": {},
        "usage": data_usage(manifest, list((external_sets or {}).values())),
        "notes": list(notes),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # Metrics are measured on the serialised weights, exactly what the version stores and serves.
    weights = serialise_weights(result.network)
    model = model_from_weights(
        weights,
        version=version,
        task=task,
        architecture=params.architecture,
        preprocessing=preprocessing,
        temperature=temperature,
        device=device,
    )
    metrics: dict[str, Any] = {
        "validation": evaluate_probabilities(
            torch.softmax(val_logits / temperature, 1).numpy(), val_labels, task.labels, positive
        )
    }
    metrics["validation"]["source"] = f"{manifest.parent.name}: validation part of train"
    eval_sets: dict[str, tuple[list[ManifestItem], str]] = {
        "source-test": (split.test, f"{manifest.parent.name}: test split")
    }
    for name, path in (external_sets or {}).items():
        eval_sets[name] = (read_manifest(path, labels=task.labels), f"{path.parent.name}: all rows")
    for name, (eval_items, source) in eval_sets.items():
        images = load_image_set(eval_items, task.labels, params.input_size, window=window)
        metrics[name] = {**evaluate_image_set(model, images), "source": source}
    if served_sensitivity is not None and positive is not None:
        point, halves = _operating_point(model, split.test, positive, served_sensitivity)
        card["operating_point"] = point
        metrics.update(halves)
    card["metrics"] = metrics
    return write_version(
        store_root,
        version=version,
        task=task.name,
        weights=weights,
        card=card,
        preprocessing=preprocessing.to_dict(),
    )


def _operating_point(
    model: LoadedModel, test: Sequence[ManifestItem], positive: int, target: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The version's served threshold, from the gate half; both halves' metrics as served at it."""
    halves = dict(zip(("gate", "report"), source_test_halves(test), strict=True))
    scored = {}
    for half, items in halves.items():
        images = load_image_set(
            items, model.labels, model.preprocessing.input_size, window=model.preprocessing.modality_window
        )
        scored[half] = (
            images,
            model.predict_images(images.images).numpy()[:, positive],
            images.labels.numpy() == positive,
        )
    _, gate_scores, gate_positives = scored["gate"]
    choice = choose_threshold_confidently(gate_scores, gate_positives, target)
    point = {
        "threshold": choice.threshold,
        "target_sensitivity": target,
        "sensitivity": round(choice.sensitivity, 4),
        "specificity": round(choice.specificity, 4),
        "positives": choice.positives,
        "negatives": choice.negatives,
        "chosen_on": "the gate half of the source test split (by patient): the highest threshold whose "
        "sensitivity's one-sided 95% lower bound (Wilson) reaches the target",
    }
    metrics = {}
    for half, (images, scores, positives) in scored.items():
        groups = [group_key(item) for item in images.items]
        metrics[f"source-test-{half}-half"] = {
            **evaluate_image_set(model, images),
            "served": served_at_threshold(scores, positives, groups, choice.threshold),
            "source": f"{half} half of the test split, by patient"
            + (" (read by decisions)" if half == "gate" else " (only ever reported)"),
        }
    return point, metrics


NON_COMMERCIAL = "research and non-commercial use only"
_BOLD_LICENSE = re.compile(r"\*\*((?:CC|ODC|PDDL|CDLA)[^*]*)\*\*")
_LICENSE_LINE = re.compile(r"licen[cs]e[^:\n]*:\s*\**([^*\n;(]+)", re.IGNORECASE)


def dataset_license(folder: Path) -> str | None:
    """The licence a dataset's SOURCE.md names (its bold CC/ODC name, else a "License: ..." line)."""
    source = folder / "SOURCE.md"
    if not source.is_file():
        return None
    text = source.read_text(encoding="utf-8", errors="replace")
    found = _BOLD_LICENSE.search(text) or _LICENSE_LINE.search(text)
    return found.group(1).strip().rstrip(".").strip() if found else None


def is_non_commercial(license_name: str) -> bool:
    return bool(re.search(r"\bNC\b|non-?commercial", license_name, re.IGNORECASE))


def data_usage(manifest: Path, evaluation_manifests: Sequence[Path]) -> dict[str, Any]:
    """The card's `usage`: the licences of the data the weights were trained and evaluated on, and the
    restriction they impose. A non-commercial licence on any of them (the weights are derived from the
    training data; the card's figures from the evaluation data) restricts the version to research and
    non-commercial use."""
    licenses = {path.parent.name: dataset_license(path.parent) for path in [manifest, *evaluation_manifests]}
    restricted = sorted(name for name, value in licenses.items() if value and is_non_commercial(value))
    return {
        "restriction": NON_COMMERCIAL if restricted else None,
        "data_licenses": licenses,
        "reason": (
            f"non-commercial data licence: {', '.join(f'{name} ({licenses[name]})' for name in restricted)}"
            if restricted
            else None
        ),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
