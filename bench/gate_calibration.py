"""How often the promotion gate promotes: a candidate with nothing to learn, and a genuinely better one.

    .venv/bin/python -m bench.gate_calibration --null-runs 20 --power-runs 10 --out docs/bench/gate

In-process, with the worker's own functions (`plan_adaptation`, `fine_tune`, `scored_cases`, `compare`,
`judge`), on the NIH adult set as the new site and the shipped chest X-ray model as the active version:

- **null**: 200 NIH cases whose verdicts are a random permutation of the true labels (everywhere: the
  training cases, the held-out ones and the sequestered ones, as a service receiving meaningless
  verdicts would). The verdicts carry no information, so every promotion is a false promotion.
- **power**: the candidate trained on 400 true verdicts against the active version trained on the first
  100 of them, judged on the sequestered cases among the 400.

Each run draws its own pseudonym key (so its own sequestered patients, about 20%) and its own arrival
order and permutation; the run's seed is recorded with its decision.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.common import DATASETS, ROOT
from imaging_ai.ml.adaptation import AdaptationParams, fine_tune
from imaging_ai.ml.adaptation_data import (
    SITE_THRESHOLD_MIN_CASES,
    load_plan,
    plan_adaptation,
    source_test_halves,
)
from imaging_ai.ml.base_training import split_manifest
from imaging_ai.ml.comparison import compare
from imaging_ai.ml.data import ImageSet, load_image_set
from imaging_ai.ml.evaluation import scored_cases, threshold_on
from imaging_ai.ml.loading import LoadedModel, load_model, model_from_weights, serialise_weights
from imaging_ai.ml.manifest import ManifestItem, read_manifest, stable_fraction
from imaging_ai.ml.tasks import TASKS
from imaging_ai.services.training.gate import GatePolicy, judge
from imaging_ai.storage.model_store import list_versions

TASK = TASKS["chest-xray-pneumonia"]


class Images:
    """Every image decoded once for all runs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.cache: dict[Path, torch.Tensor] = {}

    def load(self, items: list[ManifestItem]) -> ImageSet:
        missing = [item for item in items if item.path not in self.cache]
        if missing:
            loaded = load_image_set(missing, TASK.labels, self.size)
            for item, image in zip(missing, loaded.images, strict=True):
                self.cache[item.path] = image
        index = {label: k for k, label in enumerate(TASK.labels)}
        images = (
            torch.stack([self.cache[item.path] for item in items])
            if items
            else torch.empty(0, self.size, self.size)
        )
        return ImageSet(images, torch.tensor([index[i.label] for i in items], dtype=torch.long), list(items))


def threshold(model: LoadedModel, images: ImageSet, minimum: int) -> float | None:
    choice = threshold_on(model, images, minimum_per_label=minimum)
    return choice.threshold if choice else None


def adapt(
    parent: LoadedModel, cases: list[ManifestItem], source_train: list[ManifestItem], images: Images
) -> tuple[LoadedModel, float | None, float | None]:
    """The worker's recipe: returns the candidate, its own threshold and its threshold at the site."""
    params = AdaptationParams()
    plan = plan_adaptation(cases, source_train, params)
    data = load_plan(plan, images.load)
    result = fine_tune(parent, data.site_train, data.validation, data.replay, params=params)
    candidate = model_from_weights(
        serialise_weights(result.training.network), version="candidate", task=TASK,
        architecture=parent.architecture, preprocessing=parent.preprocessing, temperature=result.temperature,
    )  # fmt: skip
    own = threshold(candidate, data.validation, 1)
    at_site = threshold(candidate, data.site_validation, SITE_THRESHOLD_MIN_CASES)
    return candidate, own, at_site if at_site is not None else own


def stream(items: list[ManifestItem], seed: int) -> tuple[list[ManifestItem], set[str]]:
    """Arrival order and the sequestered patients for one run (its pseudonym key)."""
    ordered = sorted(items, key=lambda item: stable_fraction(str(item.path), seed))
    sequestered = {
        item.patient_id or str(item.path)
        for item in items
        if stable_fraction(f"{seed}:{item.patient_id or item.path}", 20261127) < 0.2
    }
    return ordered, sequestered


def one_judgement(
    active: LoadedModel, active_threshold: float | None, candidate: LoadedModel, own: float | None,
    at_site: float | None, sequestered: ImageSet, gate: ImageSet, policy: GatePolicy,
) -> dict[str, Any]:  # fmt: skip
    target = compare(
        "sequestered: site nih", scored_cases(active, sequestered), scored_cases(candidate, sequestered),
        TASK.labels, active_threshold=active_threshold, candidate_threshold=at_site,
    )  # fmt: skip
    source = compare(
        "source gate half", scored_cases(active, gate), scored_cases(candidate, gate), TASK.labels,
        active_threshold=None, candidate_threshold=own,
    )  # fmt: skip
    decision = judge(TASK, site="nih", target=target, others=[], source_gate=source, policy=policy)
    return decision.to_json()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--null-runs", type=int, default=20)
    parser.add_argument("--power-runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "gate")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    [shipped] = [v for v in list_versions(ROOT / "model_store") if v.task == TASK.name]
    base = load_model(shipped)
    images = Images(base.preprocessing.input_size)
    nih = read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv", labels=TASK.labels)
    source = split_manifest(
        read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv", labels=TASK.labels),
        validation_fraction=0.1, test_fraction=0.15, seed=0,
    )  # fmt: skip
    gate_items, _report = source_test_halves(source.test)
    gate = images.load(gate_items)
    policy = GatePolicy()
    results: dict[str, list[dict[str, Any]]] = {"null": [], "power": []}
    out = args.out / "gate_calibration.json"

    for run in range(args.null_runs):
        started = time.perf_counter()
        ordered, sequestered_patients = stream(nih, 1000 + run)
        cases = ordered[:200]
        shuffled = [c.label for c in cases]
        random.Random(run).shuffle(shuffled)
        cases = [
            ManifestItem(c.path, label, c.site, c.split, c.patient_id)
            for c, label in zip(cases, shuffled, strict=True)
        ]
        training = [c for c in cases if (c.patient_id or str(c.path)) not in sequestered_patients]
        held = images.load([c for c in cases if (c.patient_id or str(c.path)) in sequestered_patients])
        # The active version's threshold at the site: chosen on its verified (here: permuted) predictions.
        active_threshold = threshold(base, images.load(training), 10)
        candidate, own, at_site = adapt(base, training, source.train, images)
        decision = one_judgement(base, active_threshold, candidate, own, at_site, held, gate, policy)
        results["null"].append({"run": run, "seconds": round(time.perf_counter() - started, 1), **decision})
        print(
            json.dumps({"null": run, "promoted": decision["promote_for_site"], "reason": decision["reason"]}),
            flush=True,
        )
        out.write_text(json.dumps(results, indent=1) + "\n")

    for run in range(args.power_runs):
        started = time.perf_counter()
        ordered, sequestered_patients = stream(nih, 2000 + run)
        cases = ordered[:400]
        training = [c for c in cases if (c.patient_id or str(c.path)) not in sequestered_patients]
        early = [c for c in cases[:100] if (c.patient_id or str(c.path)) not in sequestered_patients]
        held = images.load([c for c in cases if (c.patient_id or str(c.path)) in sequestered_patients])
        active, _active_own, active_site = adapt(base, early, source.train, images)
        candidate, own, at_site = adapt(base, training, source.train, images)
        decision = one_judgement(active, active_site, candidate, own, at_site, held, gate, policy)
        results["power"].append({"run": run, "seconds": round(time.perf_counter() - started, 1), **decision})
        print(
            json.dumps(
                {"power": run, "promoted": decision["promote_for_site"], "reason": decision["reason"]}
            ),
            flush=True,
        )
        out.write_text(json.dumps(results, indent=1) + "\n")

    summary = {
        kind: {
            "runs": len(rows),
            "promoted_for_site": sum(r["promote_for_site"] for r in rows),
            "rate": round(float(np.mean([r["promote_for_site"] for r in rows])), 3) if rows else None,
            "median_probability_better": float(
                np.median([r["target"]["probability_better"] or 0 for r in rows])
            )
            if rows
            else None,
        }
        for kind, rows in results.items()
    }
    results["summary"] = [summary]  # type: ignore[list-item]
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
