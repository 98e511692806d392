"""The out-of-distribution guard of the shipped versions, measured on real images.

    .venv/bin/python -m bench.ood_guard --out docs/bench/ood

Chest X-ray version (density fitted on the Guangzhou train part, threshold = the 99th percentile of
the Guangzhou validation part's distances; the test split was used by neither):
- Guangzhou *test* split: the share flagged is the false-flag rate on in-distribution images (goal: at
  most 5%), with a Wilson 95% interval;
- brain MRI slices and chest CT slices (two sites) sent to the chest task: AUROC of the distance
  against the Guangzhou test images (goal: at least 0.99, percentile-bootstrap 95% interval) and the
  share flagged; also on the *report half* of those images alone, the half that played no part in
  choosing the density's features (see docs/bench/ood/README.md);
- NIH adult chest X-rays, one by one, against the Guangzhou test images (a real site shift: reported);
- Hannover adult chest X-rays: share flagged (reported).
The same figures for a density on the penultimate features only (fitted identically, not shipped),
and for the brain MRI version on its own seeded test split, with chest X-rays and CT as foreign images.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.feature_scores import BRAIN, CHEST, Scored, dataset_items
from imaging_ai.ml.features import PENULTIMATE, STAGES
from imaging_ai.ml.manifest import stable_fraction
from imaging_ai.ml.metrics import binary_auc
from imaging_ai.services.trust.statistics import wilson

FOREIGN_FOR_CHEST = ("mri-brain-tumor", "ct-covid-saopaulo", "ct-covid-mosmed")
FOREIGN_FOR_BRAIN = ("cxr-guangzhou-pediatric", "ct-covid-saopaulo", "ct-covid-mosmed")
BOOTSTRAP = 1000
DEV_SEED = 4242
"""Foreign images with stable_fraction(path, DEV_SEED) < 0.5 are the development half: the only ones
looked at (against the validation part) when the density's features were chosen."""


def is_report_half(path: str) -> bool:
    return stable_fraction(path, DEV_SEED) >= 0.5


def flagged(distances: np.ndarray, threshold: float) -> dict[str, Any]:
    proportion = wilson(int((distances > threshold).sum()), len(distances))
    return {"n": proportion.n, "flagged": proportion.successes, "rate": proportion.rate,
            "rate_ci95": [proportion.low, proportion.high]}  # fmt: skip


def auroc(foreign: np.ndarray, reference: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """AUROC of the distance, foreign images positive, with a stratified percentile-bootstrap interval."""
    scores = np.concatenate([foreign, reference])
    positive = np.concatenate([np.ones(len(foreign), bool), np.zeros(len(reference), bool)])
    rng = np.random.default_rng(seed)
    samples = [
        binary_auc(
            np.concatenate([rng.choice(foreign, len(foreign)), rng.choice(reference, len(reference))]),
            positive,
        )
        for _ in range(BOOTSTRAP)
    ]
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"auroc": round(binary_auc(scores, positive), 4), "auroc_ci95": [round(low, 4), round(high, 4)]}


def against(foreign: np.ndarray, reference: np.ndarray, threshold: float) -> dict[str, Any]:
    return {**auroc(foreign, reference), **flagged(foreign, threshold)}


def chest(scored: Scored) -> dict[str, Any]:
    threshold = scored.density.threshold
    parts = scored.source_parts()
    test = scored.scores("guangzhou-test", parts["test"])
    validation = scored.scores("guangzhou-validation", parts["validation"])
    foreign = {name: scored.scores(name, dataset_items(name)) for name in FOREIGN_FOR_CHEST}
    nih = scored.scores("cxr-nih-adult", dataset_items("cxr-nih-adult"))
    hannover = scored.scores("cxr-hannover-covid", dataset_items("cxr-hannover-covid"))
    every = np.concatenate([s.distances for s in foreign.values()])
    report = np.concatenate([s.distances[[is_report_half(p) for p in s.paths]] for s in foreign.values()])
    return {
        "version": scored.stored.version,
        "features": scored.density.features,
        "dimension": scored.density.dimension,
        "threshold": round(threshold, 4),
        "quantile": scored.density.quantile,
        "in_distribution": {
            "guangzhou_test": {**flagged(test.distances, threshold), "goal": "rate <= 0.05"},
            "guangzhou_validation (the threshold's own images)": flagged(validation.distances, threshold),
        },
        "foreign": {
            "mri+ct": {**against(every, test.distances, threshold), "goal": "auroc >= 0.99"},
            "mri+ct, report half": against(report, test.distances, threshold),
            **{name: against(s.distances, test.distances, threshold) for name, s in foreign.items()},
        },
        "other_sites": {
            "cxr-nih-adult": against(nih.distances, test.distances, threshold),
            "cxr-hannover-covid": flagged(hannover.distances, threshold),
        },
        "median_distance": {
            "guangzhou_test": round(float(np.median(test.distances)), 2),
            "guangzhou_validation": round(float(np.median(validation.distances)), 2),
            "cxr-nih-adult": round(float(np.median(nih.distances)), 2),
            "cxr-hannover-covid": round(float(np.median(hannover.distances)), 2),
            **{name: round(float(np.median(s.distances)), 2) for name, s in foreign.items()},
        },
    }


def brain(scored: Scored) -> dict[str, Any]:
    threshold = scored.density.threshold
    test = scored.scores("brain-test", scored.source_parts()["test"])
    chest_test = [item for item in dataset_items("cxr-guangzhou-pediatric") if item.split == "test"]
    foreign = {
        name: scored.scores(name, chest_test if name == "cxr-guangzhou-pediatric" else dataset_items(name))
        for name in FOREIGN_FOR_BRAIN
    }
    every = np.concatenate([s.distances for s in foreign.values()])
    return {
        "version": scored.stored.version,
        "features": scored.density.features,
        "threshold": round(threshold, 4),
        "holdout_images": len(scored.density.reference_distances),
        "in_distribution": {"brain_test": flagged(test.distances, threshold)},
        "foreign": {
            "cxr+ct": against(every, test.distances, threshold),
            **{name: against(s.distances, test.distances, threshold) for name, s in foreign.items()},
        },
    }


def _rate(entry: dict[str, Any]) -> str:
    low, high = entry["rate_ci95"]
    return f"{entry['flagged']} = {entry['rate']:.3f} [{low:.3f}, {high:.3f}]"


def _auc(entry: dict[str, Any]) -> str:
    if "auroc" not in entry:
        return "-"
    low, high = entry["auroc_ci95"]
    return f"{entry['auroc']:.4f} [{low:.4f}, {high:.4f}]"


def chest_table(c: dict[str, Any]) -> list[str]:
    lines = [
        f"Chest X-ray version {c['version']}, `{c['features']}` features ({c['dimension']} dimensions): "
        f"threshold {c['threshold']} (q = {c['quantile']} of the validation part).",
        "",
        "| images (sent to the chest task) | n | flagged [95% CI] | AUROC vs Guangzhou test [95% CI] |",
        "|---|---|---|---|",
    ]
    rows = [
        ("Guangzhou test split (in distribution)", c["in_distribution"]["guangzhou_test"]),
        ("MRI + CT (foreign)", c["foreign"]["mri+ct"]),
        *((f"&nbsp;&nbsp;{name}", entry) for name, entry in c["foreign"].items() if name != "mri+ct"),
        ("NIH adult chest X-rays (another site)", c["other_sites"]["cxr-nih-adult"]),
        ("Hannover adult chest X-rays (another site)", c["other_sites"]["cxr-hannover-covid"]),
    ]
    lines += [f"| {name} | {entry['n']} | {_rate(entry)} | {_auc(entry)} |" for name, entry in rows]
    return lines


def markdown(result: dict[str, Any]) -> str:
    b = result["brain"]
    own = b["in_distribution"]["brain_test"]
    lines = [
        *chest_table(result["chest"]),
        "",
        *chest_table(result["chest_penultimate"]),
        "",
        f"Brain MRI version {b['version']}, `{b['features']}` features: threshold {b['threshold']} "
        f"({b['holdout_images']} held-out images).",
        "",
        "| images (sent to the brain task) | n | flagged [95% CI] | AUROC vs brain test [95% CI] |",
        "|---|---|---|---|",
        f"| brain test split (in distribution) | {own['n']} | {_rate(own)} | - |",
    ]
    lines += [
        f"| {name} | {entry['n']} | {_rate(entry)} | {_auc(entry)} |" for name, entry in b["foreign"].items()
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="Folder for ood_guard.json.")
    args = parser.parse_args()
    started = time.perf_counter()
    result = {
        "chest": chest(Scored.load(CHEST, STAGES)),
        "chest_penultimate": chest(Scored.load(CHEST, PENULTIMATE)),
        "brain": brain(Scored.load(BRAIN, STAGES)),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, CPU",
        "command": ".venv/bin/python -m bench.ood_guard --out docs/bench/ood",
    }
    print(markdown(result))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "ood_guard.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
