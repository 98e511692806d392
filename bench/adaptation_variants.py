"""Compares variants of the adaptation method, in-process, on the first N cases of the NIH stream.

    .venv/bin/python -m bench.adaptation_variants --cases 200
    .venv/bin/python -m bench.adaptation_variants --cases 422

Same stream/test split as `bench.adaptation` (seeded by patient); each variant fine-tunes the shipped
chest X-ray version on the stream's cases (15% of patients held out for early stopping) and is scored on
the NIH test part and the source (Guangzhou) test split. The frozen model's scores are the baseline.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from bench.adaptation import evaluate, split_by_patient
from bench.common import DATASETS, ROOT
from imaging_ai.ml.adaptation import AdaptationParams, concatenate, fine_tune, replay_count
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.loading import load_model, model_from_weights, serialise_weights
from imaging_ai.ml.manifest import read_manifest, stable_fraction
from imaging_ai.storage.model_store import list_versions

VARIANTS = {
    "replay 1:1, batch-norm updated": AdaptationParams(replay_ratio=1, freeze_batchnorm=False),
    "replay 1:1, batch-norm kept": AdaptationParams(replay_ratio=1),
    "replay 1:1, kept, lr 2e-4": AdaptationParams(replay_ratio=1, learning_rate=2e-4),
    "replay 1:1, kept, 10 epochs": AdaptationParams(replay_ratio=1, epochs=10),
    "replay 3:1 (max 600), kept (default)": AdaptationParams(),
    "replay 3:1, kept, lr 2e-4": AdaptationParams(learning_rate=2e-4),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(2)
    stream, test = split_by_patient(DATASETS / "cxr-nih-adult" / "manifest.csv", 0.3, 0)
    stream = stream[: args.cases]
    [shipped] = [v for v in list_versions(ROOT / "model_store") if v.task == "chest-xray-pneumonia"]
    parent = load_model(shipped)
    labels, size = parent.labels, parent.preprocessing.input_size
    source_rows = read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv")
    source = load_image_set([i for i in source_rows if i.split == "test"], labels, size)
    target = load_image_set(test, labels, size)
    replay_items = sorted(
        (i for i in source_rows if i.split == "train"), key=lambda i: stable_fraction(str(i.path), 0)
    )
    validation = [i for i in stream if stable_fraction(i.patient_id or str(i.path), 7) < 0.15]
    training = [i for i in stream if i not in validation]
    train_set, val_set = load_image_set(training, labels, size), load_image_set(validation, labels, size)
    print(json.dumps({"cases": len(stream), "frozen": evaluate(parent, target, source)}), flush=True)
    for name, params in VARIANTS.items():
        replay = load_image_set(replay_items[: replay_count(len(training), params)], labels, size)
        started = time.perf_counter()
        result = fine_tune(parent, train_set, concatenate(val_set), replay, params=params)
        model = model_from_weights(
            serialise_weights(result.training.network),
            version=name,
            task=parent.task,
            architecture=parent.architecture,
            preprocessing=parent.preprocessing,
            temperature=result.temperature,
        )
        scores = evaluate(model, target, source)
        print(
            json.dumps(
                {
                    "variant": name,
                    "cases": len(stream),
                    "target_auc": scores["target_auc"],
                    "source_auc": scores["source_auc"],
                    "seconds": round(time.perf_counter() - started, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
