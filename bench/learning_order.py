"""Which order of verdicts teaches a new site fastest? A fast in-process comparison (issue #15).

    .venv/bin/python -m bench.learning_order --orders 5 --splits 2 --out docs/bench/learning_order

The NIH adult set is the new site: each patient split (seed) holds 30% of its patients out as the
test set, the rest is the stream, sent in `--orders` arrival orders. For each budget (50, 100, 200
verdicts) and each strategy, clinicians verify that many stream cases and the model is adapted on
them; the adapted model is scored on the held-out patients (AUC of the pneumonia probability).

Strategies, all in the same run: **arrival** (the first cases to arrive), **random** (a uniform draw),
**learning** (the product's learning queue, `ml.selection.learning_order` with a 0.3 random share,
re-ranked every `--round` verdicts by the model adapted so far, stratified by estimated error while
that model is uninformative at the site, BADGE once it is), and the reference points: **frozen** (the
shipped model) and **oracle** (adapted on the whole stream with its labels).

The fast path: the shipped network is frozen and adaptation is a linear probe (L2 logistic regression)
on its multi-stage features (the pooled output of every stage, standardised), computed once, trained
on the verified site cases plus as many source (Guangzhou train) cases replayed. This is not the
service's fine-tuning (which trains the whole network), so absolute AUCs differ from
bench.adaptation's; it compares orders under identical training, over many runs. The learning order
ranks by the probe's own probabilities and the gradient embeddings on its input features (BADGE's
definition: the last layer of the model being trained).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.adaptation import split_by_patient
from bench.common import DATASETS, ROOT, report
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.features import STAGES, features_and_logits
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import ManifestItem, read_manifest, stable_fraction
from imaging_ai.ml.metrics import binary_auc
from imaging_ai.ml.selection import gradient_embeddings, learning_order
from imaging_ai.ml.tasks import TASKS
from imaging_ai.storage.model_store import list_versions

TASK = "chest-xray-pneumonia"
BUDGETS = (50, 100, 200)
STRATEGIES = ("arrival", "random", "learning")
MIN_VERIFIED = 20  # as the service's learning queue


@dataclass
class Features:
    """Penultimate features and labels of a set of cases, keyed by path."""

    paths: list[str]
    features: torch.Tensor
    labels: torch.Tensor

    def take(self, paths: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        index = {p: i for i, p in enumerate(self.paths)}
        rows = [index[p] for p in paths]
        return self.features[rows], self.labels[rows]


def extract(model: LoadedModel, items: list[ManifestItem]) -> Features:
    images = load_image_set(items, model.labels, model.preprocessing.input_size)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images.images), 64):
            batch = model.normalise_images(images.images[start : start + 64])
            features, _ = features_and_logits(model.network, model.architecture, batch, STAGES)
            outputs.append(features)
    return Features([str(i.path) for i in items], torch.cat(outputs), images.labels)


@dataclass
class Probe:
    """L2 logistic regression on standardised features: the adapted model of the fast path."""

    weights: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor

    def inputs(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.scale

    def positive_probability(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.inputs(features) @ self.weights + self.bias)

    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        p = self.positive_probability(features)
        return torch.stack([1 - p, p], dim=1)


def adapt(
    features: torch.Tensor, labels: torch.Tensor, replay: Features, seed: int, l2: float = 1.0
) -> Probe:
    """A probe fitted on the verified cases plus as many replayed source cases (class-balanced)."""
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(replay.paths), generator=generator)[: max(len(features), 1)]
    x = torch.cat([features, replay.features[chosen]])
    y = torch.cat([labels, replay.labels[chosen]]).float()
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    positives = float(y.sum())
    weight = torch.where(
        y > 0, len(y) / (2 * max(positives, 1.0)), len(y) / (2 * max(len(y) - positives, 1.0))
    )
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], max_iter=200)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = z @ w + b
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y, weight=weight)
        loss = loss + l2 * (w**2).sum() / len(y)
        loss.backward()
        return loss

    optimiser.step(closure)  # type: ignore[arg-type]
    return Probe(w.detach(), b.detach(), mean, scale)


def auc(scores: torch.Tensor, labels: torch.Tensor, positive: int) -> float:
    return float(binary_auc(scores.numpy(), labels.numpy() == positive))


def learning_selection(
    pool: list[str],
    site: Features,
    budget: int,
    shipped: dict[str, torch.Tensor],
    replay: Features,
    labels: tuple[str, ...],
    seed: int,
    round_size: int,
) -> tuple[list[str], list[str]]:
    """The product's order, simulated: every `round_size` verdicts the head adapted on the verdicts so
    far serves the site and re-ranks the waiting cases. Returns the chosen paths and the strategy of
    each pick."""
    chosen: list[str] = []
    strategies: list[str] = []
    answers: list[tuple[int, int]] = []  # (served answer, label) of each verified case, as served
    probe: Probe | None = None  # the shipped model serves until the first adaptation
    keys = {p: stable_fraction(p, 7000 + seed) for p in pool}
    rng = np.random.default_rng(seed)
    while len(chosen) < budget:
        waiting = [p for p in pool if p not in set(chosen)]
        features, _ = site.take(waiting)
        if probe is None:
            probs = torch.stack([shipped[p] for p in waiting]).numpy()
            embedding_inputs = (features - features.mean(0)) / (features.std(0) + 1e-6)
        else:
            probs = probe.probabilities(features).numpy()
            embedding_inputs = probe.inputs(features)
        predicted = probs.argmax(axis=1)
        rates: dict[str, list[int]] = {}
        for answer, label in answers:
            errors, total = rates.get(labels[answer], [0, 0])
            rates[labels[answer]] = [errors + (answer != label), total + 1]
        error_rates = {name: (e + 1) / (n + 2) for name, (e, n) in rates.items()}
        informative = False
        if len(answers) >= MIN_VERIFIED:
            accuracy = sum(a == y for a, y in answers) / len(answers)
            truths = [y for _, y in answers]
            majority = max(truths.count(k) for k in set(truths)) / len(truths)
            informative = accuracy > majority
        count = min(round_size, budget - len(chosen))
        picks = learning_order(
            keys=np.array([keys[p] for p in waiting]),
            random_share=0.3,
            count=count,
            informative=informative,
            strata=[labels[int(k)] for k in predicted],
            error_rates=error_rates,
            embeddings=gradient_embeddings(probs, embedding_inputs.numpy()),
            rng=rng,
        )
        for pick in picks:
            path = waiting[pick.index]
            chosen.append(path)
            strategies.append(pick.strategy)
            _, label = site.take([path])
            answers.append((int(predicted[pick.index]), int(label[0])))
        x, y = site.take(chosen)
        probe = adapt(x, y, replay, seed)
    return chosen, strategies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5)
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--round", type=int, default=25, help="Verdicts between re-rankings.")
    parser.add_argument("--replay-cases", type=int, default=800)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    spec = TASKS[TASK]
    positive = spec.label_index(spec.positive_label or spec.labels[-1])
    [shipped] = [v for v in list_versions(ROOT / "model_store") if v.task == TASK]
    model = load_model(shipped)
    nih = read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv")
    source = [
        i for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv") if i.split == "train"
    ]
    source.sort(key=lambda item: stable_fraction(str(item.path), 11))
    site = extract(model, nih)
    replay = extract(model, source[: args.replay_cases])
    # The frozen shipped model's own answers (its whole network, as served).
    images = load_image_set(nih, model.labels, model.preprocessing.input_size)
    frozen_probabilities = model.predict_images(images.images)
    shipped_answers = {p: frozen_probabilities[i] for i, p in enumerate(site.paths)}

    runs: list[dict[str, Any]] = []
    for split in range(args.splits):
        stream_items, test_items = split_by_patient(DATASETS / "cxr-nih-adult" / "manifest.csv", 0.3, split)
        test_paths = [str(i.path) for i in test_items]
        test_x, test_y = site.take(test_paths)
        frozen = auc(torch.stack([shipped_answers[p][positive] for p in test_paths]), test_y, positive)
        stream_x, stream_y = site.take([str(i.path) for i in stream_items])
        oracle = auc(adapt(stream_x, stream_y, replay, split).positive_probability(test_x), test_y, positive)
        for order in range(args.orders):
            arrival = sorted(
                (str(i.path) for i in stream_items), key=lambda p: stable_fraction(p, 100 + order)
            )
            shuffled = sorted(arrival, key=lambda p: stable_fraction(p, 200 + order))
            run: dict[str, Any] = {"split": split, "order": order, "frozen": frozen, "oracle": oracle}
            for budget in BUDGETS:
                picked = {
                    "arrival": arrival[:budget],
                    "random": shuffled[:budget],
                    "learning": learning_selection(
                        arrival, site, budget, shipped_answers, replay, spec.labels,
                        seed=1000 * split + order, round_size=args.round,
                    )[0],
                }  # fmt: skip
                for strategy, paths in picked.items():
                    x, y = site.take(paths)
                    probe = adapt(x, y, replay, 1000 * split + order)
                    value = auc(probe.positive_probability(test_x), test_y, positive)
                    run[f"{strategy}@{budget}"] = value
                    run[f"{strategy}@{budget}_closed"] = (value - frozen) / (oracle - frozen)
            runs.append(run)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()}))

    summary: dict[str, Any] = {}
    for budget in BUDGETS:
        for strategy in STRATEGIES:
            values = [r[f"{strategy}@{budget}"] for r in runs]
            closed = [r[f"{strategy}@{budget}_closed"] for r in runs]
            summary[f"{strategy}@{budget}"] = {
                "auc_median": round(statistics.median(values), 4),
                "auc_worst": round(min(values), 4),
                "gap_closed_median": round(statistics.median(closed), 3),
                "gap_closed_worst": round(min(closed), 3),
            }
        wins = sum(r[f"learning@{budget}"] > r[f"random@{budget}"] for r in runs)
        summary[f"learning_beats_random@{budget}"] = f"{wins} of {len(runs)} runs"
    summary["frozen_auc_by_split"] = sorted({round(r["frozen"], 4) for r in runs})
    summary["oracle_auc_by_split"] = sorted({round(r["oracle"], 4) for r in runs})
    result = {
        "protocol": {
            "site": "cxr-nih-adult, 30% of patients held out per split",
            "splits": args.splits,
            "orders": args.orders,
            "budgets": list(BUDGETS),
            "round": args.round,
            "adaptation": "classifier head on frozen penultimate features, source replay 1:1",
        },
        "summary": summary,
        "runs": runs,
    }
    report(result, args.out / "learning_order.json" if args.out else None)


if __name__ == "__main__":
    main()
