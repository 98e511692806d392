"""Which shipped chest X-ray model? Candidate base versions on the source test split, as served.

    .venv/bin/python -m bench.base_model_candidates --store /tmp/cand \
        --version chest-xray-pneumonia.v1 --version chest-xray-pneumonia.c224s \
        --out docs/bench/base_model_candidates

Each candidate (a base version trained by `imaging-ai train-base`, found in `model_store/` or a
`--store`) is scored on the Guangzhou test split's two halves (`source_test_halves`, by patient): the
**gate half**, which decisions may read, and the **report half**, which only this table reads. The
served decision threshold is chosen on the gate half (the lowest-risk threshold that calls at least
`--target-sensitivity` of its pneumonias, and the one whose sensitivity's one-sided 95% lower bound
reaches it) and then applied, unchanged, to the report half; the
threshold chosen on the validation part of train is shown beside it, since the test split differs
from train in a way validation data cannot show. Also: test-time augmentation (the mean calibrated
probability over small shifts and scalings) and the ensemble of all candidates (their mean probability).

Intervals: 95% percentile bootstrap over patients (all of a patient's images resampled together).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.common import DATASETS, ROOT, report
from imaging_ai.ml.adaptation_data import source_test_halves
from imaging_ai.ml.base_training import split_manifest
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.evaluation import served_at_threshold
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import ManifestItem, group_key, read_manifest
from imaging_ai.ml.metrics import binary_auc, patient_bootstrap
from imaging_ai.ml.operating_point import choose_threshold, choose_threshold_confidently
from imaging_ai.ml.tasks import TASKS
from imaging_ai.storage.model_store import read_version

TASK = "chest-xray-pneumonia"
TTA_VIEWS = ((1.0, 0.0, 0.0), (0.92, 0.0, 0.0), (1.08, 0.0, 0.0), (1.0, 0.04, 0.0), (1.0, -0.04, 0.0))
"""(scale, shift x, shift y) of each test-time view; no flips (the heart's side matters)."""


def view(images: torch.Tensor, scale: float, shift_x: float, shift_y: float) -> torch.Tensor:
    """(N, S, S) [0, 1] images zoomed by `scale` and shifted by a share of the width, border-padded."""
    n = len(images)
    theta = torch.tensor([[1 / scale, 0.0, 2 * shift_x], [0.0, 1 / scale, 2 * shift_y]]).expand(n, 2, 3)
    batch = images.unsqueeze(1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]


def positive_scores(model: LoadedModel, images: torch.Tensor, *, tta: bool) -> np.ndarray:
    positive = model.task.label_index(model.task.positive_label or model.labels[-1])
    views = TTA_VIEWS if tta else TTA_VIEWS[:1]
    each = [model.predict_images(view(images, *v) if v != TTA_VIEWS[0] else images) for v in views]
    return torch.stack(each).mean(0)[:, positive].numpy()


def interval(statistic: Any, groups: Sequence[str]) -> list[float]:
    return [round(bound, 4) for bound in patient_bootstrap(statistic, groups)]


def evaluate(
    scores: dict[str, np.ndarray],
    positives: dict[str, np.ndarray],
    groups: dict[str, list[str]],
    target: float,
) -> dict[str, Any]:
    """AUCs on each half; thresholds chosen on validation and on the gate half, served on the report half."""
    result: dict[str, Any] = {}
    for half in ("gate", "report"):
        result[f"{half}_auc"] = round(binary_auc(scores[half], positives[half]), 4)
        result[f"{half}_auc_ci95"] = interval(
            lambda rows, s=scores[half], p=positives[half]: binary_auc(s[rows], p[rows]), groups[half]
        )
    for chosen_on in ("validation", "gate"):
        threshold = choose_threshold(scores[chosen_on], positives[chosen_on], target).threshold
        result[f"report_served_at_{chosen_on}_threshold"] = served_at_threshold(
            scores["report"], positives["report"], groups["report"], threshold
        )
    confident = choose_threshold_confidently(scores["gate"], positives["gate"], target).threshold
    result["report_served_at_gate_threshold_confident"] = served_at_threshold(
        scores["report"], positives["report"], groups["report"], confident
    )
    result["report_served_at_argmax"] = served_at_threshold(
        scores["report"], positives["report"], groups["report"], 0.5
    )
    return result


def find_version(name: str, stores: Sequence[Path]) -> Path:
    for store in (*stores, ROOT / "model_store"):
        path = store / TASK / name
        if path.is_dir():
            return path
    raise SystemExit(f"no version {name} in {[str(s) for s in stores]} or model_store/")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", action="append", required=True, help="A candidate base version.")
    parser.add_argument("--store", action="append", type=Path, default=[], help="Another model store root.")
    parser.add_argument("--target-sensitivity", type=float, default=0.95)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    spec = TASKS[TASK]
    positive = spec.label_index(spec.positive_label or spec.labels[-1])
    items = read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv", labels=spec.labels)
    split = split_manifest(items, validation_fraction=0.1, test_fraction=0.15, seed=0)
    gate, report_half = source_test_halves(split.test)
    sets: dict[str, list[ManifestItem]] = {
        "validation": split.validation,
        "gate": gate,
        "report": report_half,
    }
    groups = {name: [group_key(item) for item in rows] for name, rows in sets.items()}

    candidates: dict[str, Any] = {}
    ensemble: dict[str, list[np.ndarray]] = {name: [] for name in sets}
    for name in args.version:
        stored = read_version(find_version(name, args.store))
        model = load_model(stored, with_density=False)
        size = model.preprocessing.input_size
        images = {half: load_image_set(rows, spec.labels, size) for half, rows in sets.items()}
        positives = {half: images[half].labels.numpy() == positive for half in sets}
        for tta in (False, True):
            scores = {half: positive_scores(model, images[half].images, tta=tta) for half in sets}
            key = f"{name}{' + TTA' if tta else ''}"
            candidates[key] = {
                "input_size": size,
                "training_seconds": stored.card.get("training", {}).get("seconds"),
                **evaluate(scores, positives, groups, args.target_sensitivity),
            }
            if not tta:
                for half in sets:
                    ensemble[half].append(scores[half])
            print(key, {k: v for k, v in candidates[key].items() if k.endswith("auc")}, flush=True)
    if len(args.version) > 1:
        mean = {half: np.mean(ensemble[half], axis=0) for half in sets}
        candidates[f"ensemble of {len(args.version)}"] = evaluate(
            mean, positives, groups, args.target_sensitivity
        )
    result = {
        "protocol": {
            "data": "cxr-guangzhou-pediatric official test split, halved by patient (source_test_halves)",
            "threshold": f"lowest-risk threshold with sensitivity >= {args.target_sensitivity}, chosen on "
            "the validation part of train or on the gate half, served on the report half",
            "intervals": "95% percentile bootstrap over patients, 1,000 resamples",
            "tta_views": [list(v) for v in TTA_VIEWS],
        },
        "candidates": candidates,
    }
    report(result, args.out / "base_model_candidates.json" if args.out else None)


if __name__ == "__main__":
    main()
