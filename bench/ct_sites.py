"""The shipped chest CT version as the service serves it at each site (docs/models.md, "Chest CT: COVID-19").

For the São Paulo test split (re-split exactly as at training, by series group) and for MosMed (every row;
one slice per study), prints the AUC and, at the threshold the service serves where a site has none of its
own (the version's, from its card), sensitivity and specificity; every interval is a 95% percentile
bootstrap over patients (series groups for São Paulo, studies for MosMed), 1,000 resamples.

    nice -n 10 .venv/bin/python -m bench.ct_sites --datasets ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.density_fit import source_split
from imaging_ai.ml.loading import load_model
from imaging_ai.ml.manifest import ManifestItem, group_key, read_manifest
from imaging_ai.ml.metrics import binary_auc, patient_bootstrap
from imaging_ai.ml.operating_point import at_threshold
from imaging_ai.settings import PROJECT_ROOT
from imaging_ai.storage.model_store import read_version

VERSION_DIR = PROJECT_ROOT / "model_store/chest-ct-covid/chest-ct-covid.v1"


def served(model: Any, items: list[ManifestItem], threshold: float) -> dict[str, Any]:
    images = load_image_set(
        items, model.labels, model.preprocessing.input_size, window=model.preprocessing.modality_window
    )
    positive = model.task.label_index(model.task.positive_label)
    scores = model.predict_images(images.images).numpy()[:, positive]
    positives = images.labels.numpy() == positive
    groups = [group_key(item) for item in items]

    def auc(rows: np.ndarray) -> float:
        return binary_auc(scores[rows], positives[rows])

    def sensitivity(rows: np.ndarray) -> float:
        return at_threshold(scores[rows], positives[rows], threshold).sensitivity

    def specificity(rows: np.ndarray) -> float:
        return at_threshold(scores[rows], positives[rows], threshold).specificity

    every = np.arange(len(items))
    return {
        "n": len(items),
        "patients": len(set(groups)),
        "positives": int(positives.sum()),
        "negatives": int((~positives).sum()),
        "auc": round(auc(every), 4),
        "auc_ci95": [round(v, 4) for v in patient_bootstrap(auc, groups)],
        "threshold": threshold,
        "sensitivity": round(sensitivity(every), 4),
        "sensitivity_ci95": [round(v, 4) for v in patient_bootstrap(sensitivity, groups)],
        "specificity": round(specificity(every), 4),
        "specificity_ci95": [round(v, 4) for v in patient_bootstrap(specificity, groups)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=PROJECT_ROOT.parent / "shared" / "datasets")
    parser.add_argument("--version-dir", type=Path, default=VERSION_DIR)
    args = parser.parse_args()
    stored = read_version(args.version_dir)
    model = load_model(stored, with_density=False)
    threshold = float(stored.card["operating_point"]["threshold"])
    _, split = source_split(stored, args.datasets)
    mosmed = read_manifest(args.datasets / "ct-covid-mosmed" / "manifest.csv", labels=model.labels)
    result = {
        "version": stored.version,
        "saopaulo-test": served(model, split.test, threshold),
        "mosmed": served(model, mosmed, threshold),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
