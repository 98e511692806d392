"""Which order of verdicts teaches a new site fastest? A fast in-process comparison (issue #15).

    .venv/bin/python -m bench.learning_order --orders 5 --splits 2 --out docs/bench/learning_order

The NIH adult set is the new site: each patient split (seed) holds 30% of its patients out as the
test set, the rest is the stream, sent in `--orders` arrival orders. For each budget (50, 100, 200
verdicts) and each strategy, clinicians verify that many stream cases and the model is adapted on
them; the adapted model is scored on the held-out patients (AUC of the pneumonia probability).
The reported runs are splits 0-1 and orders 0-4 (the defaults); develop on others
(`--split-offset 10 --order-offset 10`), never on those.

Strategies, all in the same run: **arrival** (the first cases to arrive), **random** (a uniform draw),
**learning** (the product's learning queue, `ml.selection.learning_order` with a 0.3 random share,
re-ranked every `--round` verdicts by the model adapted so far, stratified by estimated error while
that model is uninformative at the site (`--cold-start typical`: TypiClust on the penultimate
features instead), BADGE once it is), their **+unlabelled** variants (the probe also uses the site's
images without verdicts, `--unlabelled`: `standardise` the site's features by the statistics of its
stream images and the replayed source's by the source's, or `pseudo`-labels), and the reference
points: **frozen** (the `--version` model) and **oracle** (adapted on the whole stream with its
labels). Unlabelled images are the stream's cases without a verdict: never the held-out test
patients, never a label of an unverified case.

The fast path: the network is frozen and adaptation is a linear probe (L2 logistic regression)
on its multi-stage features (the pooled output of every stage, standardised), computed once
(`--feature-cache` keeps them), trained on the verified site cases plus as many source (Guangzhou
train) cases replayed. This is not the service's fine-tuning (which trains the whole network), so
absolute AUCs differ from bench.adaptation's; it compares orders under identical training, over many
runs. The learning order ranks by the probe's own probabilities and the gradient embeddings on its
input features (BADGE's definition: the last layer of the model being trained).
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
from bench.typical_order import TYPICAL, typical_order
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.features import PENULTIMATE, STAGES, feature_dimension, features_and_logits
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import ManifestItem, read_manifest, stable_fraction
from imaging_ai.ml.metrics import binary_auc
from imaging_ai.ml.selection import gradient_embeddings, learning_order
from imaging_ai.ml.tasks import TASKS
from imaging_ai.storage.model_store import list_versions

TASK = "chest-xray-pneumonia"
BUDGETS = (50, 100, 200)
STRATEGIES = ("arrival", "random", "learning", "random+unlabelled", "learning+unlabelled")
MIN_VERIFIED = 20  # as the service's learning queue
UNLABELLED = ("standardise", "pseudo")


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


@dataclass(frozen=True)
class Unlabelled:
    """How the probe uses the site's images without verdicts (the stream's waiting cases; never the
    held-out test patients, never a label of an unverified case)."""

    mode: str
    """`standardise`: site cases standardised by the statistics of the site's stream images, replayed
    source cases by those of the source images (feature-level AdaBN); `pseudo`: the probe's confident
    answers on the waiting cases (probability above `threshold` for a label) are added as
    down-weighted labels and the probe refitted once."""
    pool: torch.Tensor
    """Features of the site's images without a verdict (the stream less the verified cases)."""
    site: tuple[torch.Tensor, torch.Tensor] | None = None
    """Mean and scale of the whole stream's features (verified or not), for `standardise`."""
    threshold: float = 0.9
    weight: float = 0.3


def adapt(
    features: torch.Tensor,
    labels: torch.Tensor,
    replay: Features,
    seed: int,
    l2: float = 1.0,
    unlabelled: Unlabelled | None = None,
) -> Probe:
    """A probe fitted on the verified cases plus as many replayed source cases (class-balanced)."""
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(replay.paths), generator=generator)[: max(len(features), 1)]
    y = torch.cat([labels, replay.labels[chosen]]).float()
    if unlabelled is not None and unlabelled.mode == "standardise":
        assert unlabelled.site is not None
        mean, scale = unlabelled.site
        source_mean, source_scale = replay.features.mean(0), replay.features.std(0) + 1e-6
        z = torch.cat([(features - mean) / scale, (replay.features[chosen] - source_mean) / source_scale])
    else:
        x = torch.cat([features, replay.features[chosen]])
        mean, scale = x.mean(0), x.std(0) + 1e-6
        z = (x - mean) / scale
    weight = _balanced(y)
    probe = _fit(z, y, weight, l2, mean, scale)
    if unlabelled is not None and unlabelled.mode == "pseudo" and len(unlabelled.pool):
        p = probe.positive_probability(unlabelled.pool)
        confident = (p > unlabelled.threshold) | (p < 1 - unlabelled.threshold)
        if confident.any():
            pseudo = (p[confident] > 0.5).float()
            y2 = torch.cat([y, pseudo])
            z2 = torch.cat([z, probe.inputs(unlabelled.pool[confident])])
            w2 = _balanced(y2) * torch.cat(
                [torch.ones(len(y)), torch.full((len(pseudo),), unlabelled.weight)]
            )
            probe = _fit(z2, y2, w2, l2, mean, scale)
    return probe


def _balanced(y: torch.Tensor) -> torch.Tensor:
    positives = float(y.sum())
    return torch.where(y > 0, len(y) / (2 * max(positives, 1.0)), len(y) / (2 * max(len(y) - positives, 1.0)))


def _fit(
    z: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, l2: float, mean: torch.Tensor, scale: torch.Tensor
) -> Probe:
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


@dataclass
class Site:
    """The new site in one run: its features, the frozen model's answers, the stream's statistics."""

    features: Features
    shipped: dict[str, torch.Tensor]
    """The frozen shipped model's probabilities per case (its whole network, as served)."""
    cold_start_features: torch.Tensor
    """What the service stores per case (the penultimate features), for the cold-start order."""
    stream: list[str]
    statistics: tuple[torch.Tensor, torch.Tensor]
    """Mean and scale of the stream's features (no labels, no test patients)."""

    def unlabelled(self, mode: str | None, verified: list[str]) -> Unlabelled | None:
        if mode is None:
            return None
        taken = set(verified)
        pool, _ = self.features.take([p for p in self.stream if p not in taken])
        return Unlabelled(mode, pool, self.statistics)


def learning_selection(
    site: Site,
    budget: int,
    replay: Features,
    labels: tuple[str, ...],
    seed: int,
    round_size: int,
    cold_start: str = "stratified",
    unlabelled: str | None = None,
) -> tuple[list[str], list[str]]:
    """The product's order, simulated: every `round_size` verdicts the head adapted on the verdicts so
    far serves the site and re-ranks the waiting cases. Returns the chosen paths and the strategy of
    each pick."""
    pool = site.stream
    chosen: list[str] = []
    strategies: list[str] = []
    answers: list[tuple[int, int]] = []  # (served answer, label) of each verified case, as served
    probe: Probe | None = None  # the shipped model serves until the first adaptation
    keys = {p: stable_fraction(p, 7000 + seed) for p in pool}
    rows = {p: i for i, p in enumerate(site.features.paths)}
    rng = np.random.default_rng(seed)
    while len(chosen) < budget:
        taken = set(chosen)
        waiting = [p for p in pool if p not in taken]
        features, _ = site.features.take(waiting)
        if probe is None:
            probs = torch.stack([site.shipped[p] for p in waiting]).numpy()
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
        cold_start_order = None
        if cold_start == "typical" and not informative:  # drawn only when used, as the rng's order
            cold = site.cold_start_features.numpy()
            typical = typical_order(
                cold[[rows[p] for p in waiting]], count, rng, labelled=cold[[rows[p] for p in chosen]]
            )
            cold_start_order = (TYPICAL, [(index, size) for index, size in typical])
        picks = learning_order(
            keys=np.array([keys[p] for p in waiting]),
            random_share=0.3,
            count=count,
            informative=informative,
            strata=[labels[int(k)] for k in predicted],
            error_rates=error_rates,
            embeddings=gradient_embeddings(probs, embedding_inputs.numpy()),
            rng=rng,
            cold_start=cold_start_order,
        )
        for pick in picks:
            path = waiting[pick.index]
            chosen.append(path)
            strategies.append(pick.strategy)
            _, truth = site.features.take([path])
            answers.append((int(predicted[pick.index]), int(truth[0])))
        x, y = site.features.take(chosen)
        probe = adapt(x, y, replay, seed, unlabelled=site.unlabelled(unlabelled, chosen))
    return chosen, strategies


def load_features(
    model: LoadedModel, version: str, replay_cases: int, cache: Path | None
) -> tuple[Features, Features, dict[str, torch.Tensor]]:
    """The site's and the replayed source cases' features, and the shipped model's answers on the site,
    computed once (and kept in `cache` when given)."""
    path = cache / f"{version}-{replay_cases}.pt" if cache else None
    if path is not None and path.exists():
        saved = torch.load(path)
        return Features(**saved["site"]), Features(**saved["replay"]), saved["shipped"]
    nih = read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv")
    source = [
        i for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv") if i.split == "train"
    ]
    source.sort(key=lambda item: stable_fraction(str(item.path), 11))
    site = extract(model, nih)
    replay = extract(model, source[:replay_cases])
    # The frozen shipped model's own answers (its whole network, as served).
    images = load_image_set(nih, model.labels, model.preprocessing.input_size)
    frozen_probabilities = model.predict_images(images.images)
    shipped = {p: torch.as_tensor(frozen_probabilities[i]) for i, p in enumerate(site.paths)}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"site": vars(site), "replay": vars(replay), "shipped": shipped}, path)
    return site, replay, shipped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5)
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument(
        "--split-offset", type=int, default=0, help="First patient split (develop on others than 0-1)."
    )
    parser.add_argument(
        "--order-offset", type=int, default=0, help="First arrival order (develop on others than 0-4)."
    )
    parser.add_argument("--version", default=f"{TASK}.v1", help="The model-store version kept frozen.")
    parser.add_argument("--round", type=int, default=25, help="Verdicts between re-rankings.")
    parser.add_argument("--replay-cases", type=int, default=800)
    parser.add_argument(
        "--cold-start", choices=("typical", "stratified"), default="stratified",
        help="The learning order while the model is uninformative (the product's: stratified).",
    )  # fmt: skip
    parser.add_argument(
        "--unlabelled", choices=UNLABELLED, default="standardise",
        help="How the +unlabelled strategies use the site's images without verdicts.",
    )  # fmt: skip
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--feature-cache", type=Path, default=None, help="Keep extracted features here.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    spec = TASKS[TASK]
    positive = spec.label_index(spec.positive_label or spec.labels[-1])
    [stored] = [
        v for v in list_versions(ROOT / "model_store") if v.task == TASK and v.version == args.version
    ]
    model = load_model(stored)
    features, replay, shipped = load_features(model, args.version, args.replay_cases, args.feature_cache)
    penultimate = feature_dimension(model.architecture, PENULTIMATE)
    strategies = list(args.strategies)
    budgets = BUDGETS

    runs: list[dict[str, Any]] = []
    for split in range(args.split_offset, args.split_offset + args.splits):
        stream_items, test_items = split_by_patient(DATASETS / "cxr-nih-adult" / "manifest.csv", 0.3, split)
        test_paths = [str(i.path) for i in test_items]
        test_x, test_y = features.take(test_paths)
        frozen = auc(torch.stack([shipped[p][positive] for p in test_paths]), test_y, positive)
        stream_paths = [str(i.path) for i in stream_items]
        stream_x, stream_y = features.take(stream_paths)
        oracle = auc(adapt(stream_x, stream_y, replay, split).positive_probability(test_x), test_y, positive)
        for order in range(args.order_offset, args.order_offset + args.orders):
            arrival = sorted(stream_paths, key=lambda p: stable_fraction(p, 100 + order))
            shuffled = sorted(arrival, key=lambda p: stable_fraction(p, 200 + order))
            site = Site(
                features=features,
                shipped=shipped,
                cold_start_features=features.features[:, -penultimate:],
                stream=arrival,
                statistics=(stream_x.mean(0), stream_x.std(0) + 1e-6),
            )
            seed = 1000 * split + order
            run: dict[str, Any] = {"split": split, "order": order, "frozen": frozen, "oracle": oracle}
            # Each round re-ranks the same way whatever the budget, so the largest budget's order
            # holds every smaller one as its prefix (budgets are whole rounds).
            assert all(b % args.round == 0 for b in budgets)
            ordered: dict[str, list[str]] = {"arrival": arrival, "random": shuffled}
            for strategy in strategies:
                name, _, variant = strategy.partition("+")
                unlabelled = args.unlabelled if variant else None
                if name == "learning":
                    ordered[strategy] = learning_selection(
                        site, max(budgets), replay, spec.labels, seed, args.round,
                        cold_start=args.cold_start, unlabelled=unlabelled,
                    )[0]  # fmt: skip
                else:
                    ordered[strategy] = ordered[name]
            for budget in budgets:
                for strategy in strategies:
                    paths = ordered[strategy][:budget]
                    name, _, variant = strategy.partition("+")
                    x, y = features.take(paths)
                    unlabelled = site.unlabelled(args.unlabelled if variant else None, paths)
                    probe = adapt(x, y, replay, seed, unlabelled=unlabelled)
                    value = auc(probe.positive_probability(test_x), test_y, positive)
                    run[f"{strategy}@{budget}"] = value
                    run[f"{strategy}@{budget}_closed"] = (value - frozen) / (oracle - frozen)
            runs.append(run)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()}))

    summary: dict[str, Any] = {}
    for budget in budgets:
        for strategy in strategies:
            values = [r[f"{strategy}@{budget}"] for r in runs]
            closed = [r[f"{strategy}@{budget}_closed"] for r in runs]
            summary[f"{strategy}@{budget}"] = {
                "auc_median": round(statistics.median(values), 4),
                "auc_worst": round(min(values), 4),
                "gap_closed_median": round(statistics.median(closed), 3),
                "gap_closed_worst": round(min(closed), 3),
            }
        for a, b in (("learning", "random"), ("learning+unlabelled", "random+unlabelled")):
            if a in strategies and b in strategies:
                wins = sum(r[f"{a}@{budget}"] > r[f"{b}@{budget}"] for r in runs)
                summary[f"{a}_beats_{b}@{budget}"] = f"{wins} of {len(runs)} runs"
        for variant in ("random", "learning"):
            if variant in strategies and f"{variant}+unlabelled" in strategies:
                wins = sum(r[f"{variant}+unlabelled@{budget}"] > r[f"{variant}@{budget}"] for r in runs)
                summary[f"{variant}+unlabelled_beats_{variant}@{budget}"] = f"{wins} of {len(runs)} runs"
    summary["frozen_auc_by_split"] = sorted({round(r["frozen"], 4) for r in runs})
    summary["oracle_auc_by_split"] = sorted({round(r["oracle"], 4) for r in runs})
    result = {
        "protocol": {
            "version": args.version,
            "site": "cxr-nih-adult, 30% of patients held out per split",
            "splits": list(range(args.split_offset, args.split_offset + args.splits)),
            "orders": list(range(args.order_offset, args.order_offset + args.orders)),
            "budgets": list(budgets),
            "round": args.round,
            "cold_start": args.cold_start,
            "unlabelled": args.unlabelled,
            "adaptation": "linear probe on frozen multi-stage features, source replay 1:1",
        },
        "summary": summary,
        "runs": runs,
    }
    report(result, args.out / "learning_order.json" if args.out else None)


if __name__ == "__main__":
    main()
