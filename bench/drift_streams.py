"""The drift detector on streams of real images, scored once each by the shipped chest X-ray version.

    .venv/bin/python -m bench.drift_streams --orders 200 --out docs/bench/drift

Every image is scored once (`bench.feature_scores`: decoded, resized and run through the serving
forward pass; cached under /tmp); streams are orders of those scores, run through
`ml.drift_detector.alarms` (the rule `detect` applies, reset after each alarm) with the default policy.

- **null**: the Guangzhou *test* split (624 images the density never saw) in many random orders; false
  alarms per 2,000 images (goal: at most 1).
- **changes**: 100 Guangzhou test images, then 500 images of the changed stream (the rest of the same
  order, transformed or replaced): a site swap to NIH adults; 10%, 25% and 50% of brain MRI or chest CT
  slices mixed in; intensity inversion (1 - x) and gamma 0.5 and 2.0 of the Guangzhou images. The delay
  is the number of changed-stream images up to the alarm; detected = an alarm within the 500.
  The baseline is the same construction with no change, in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.feature_scores import CHEST, Scored, dataset_items
from imaging_ai.ml.drift_detector import DriftPolicy, alarms
from imaging_ai.ml.metrics import binary_auc

PREFIX = 100
AFTER = 500
FOREIGN = ("mri-brain-tumor", "ct-covid-saopaulo", "ct-covid-mosmed")


@dataclass(frozen=True)
class ZScores:
    feature: np.ndarray
    output: np.ndarray
    flagged: np.ndarray

    def take(self, index: np.ndarray) -> ZScores:
        return ZScores(self.feature[index], self.output[index], self.flagged[index])


def concat(*parts: ZScores) -> ZScores:
    return ZScores(
        *(np.concatenate([getattr(p, name) for p in parts]) for name in ("feature", "output", "flagged"))
    )


def null_streams(
    guangzhou: ZScores, orders: int, policy: DriftPolicy, rng: np.random.Generator
) -> dict[str, Any]:
    images, found, which = 0, 0, Counter[str]()
    orders_with_alarm = 0
    for _ in range(orders):
        stream = guangzhou.take(rng.permutation(len(guangzhou.feature)))
        raised = alarms(stream.feature.tolist(), stream.output.tolist(), policy)
        images += len(stream.feature)
        found += len(raised)
        orders_with_alarm += bool(raised)
        which.update(alarm.which for alarm in raised)
    return {
        "orders": orders,
        "images": images,
        "false_alarms": found,
        "false_alarms_per_2000": round(found / images * 2000, 3),
        "orders_with_an_alarm": orders_with_alarm,
        "which": dict(which),
        "goal": "false_alarms_per_2000 <= 1",
    }


Change = Callable[[np.ndarray, np.random.Generator], ZScores]
"""(the Guangzhou images left after the prefix, rng) -> the 500 images of the changed stream."""


def change_streams(
    guangzhou: ZScores, change: Change, orders: int, policy: DriftPolicy, rng: np.random.Generator
) -> dict[str, Any]:
    delays: list[int] = []
    prefix_alarms, which, flagged = 0, Counter[str](), 0.0
    for _ in range(orders):
        order = rng.permutation(len(guangzhou.feature))
        after = change(order[PREFIX:], rng)
        stream = concat(guangzhou.take(order[:PREFIX]), after)
        raised = alarms(stream.feature.tolist(), stream.output.tolist(), policy)
        prefix_alarms += sum(alarm.index < PREFIX for alarm in raised)
        first = next((alarm for alarm in raised if alarm.index >= PREFIX), None)
        flagged += float(after.flagged.mean())
        if first is not None:
            delays.append(first.index - PREFIX + 1)
            which[first.which] += 1
    detected = len(delays)
    # Orders without an alarm count as "later than 500", so the median is honest when detection is rare.
    censored = np.array(delays + [AFTER + 1] * (orders - detected))
    return {
        "orders": orders,
        "detected_within_500": round(detected / orders, 3),
        "median_delay": _censored(float(np.median(censored))),
        "p90_delay": _censored(float(np.percentile(censored, 90))),
        "median_delay_when_detected": float(np.median(delays)) if delays else None,
        "which_first": dict(which),
        "false_alarms_in_the_100_before": prefix_alarms,
        "share_flagged_by_the_guard_after": round(flagged / orders, 3),
    }


def _harm(scored: Scored, test: list[Any]) -> dict[str, Any]:
    """What each intensity change does to the model itself: is the drift worth catching?"""
    positive = np.array([item.label == "pneumonia" for item in test])
    result = {}
    for transform in ("none", "inverted", "gamma0.5", "gamma2.0"):
        outputs = scored.scores("guangzhou-test", test, transform).outputs
        result[transform] = {
            "auc": round(binary_auc(outputs, positive), 4),
            "sensitivity@0.5": round(float((outputs[positive] >= 0.5).mean()), 3),
            "specificity@0.5": round(float((outputs[~positive] < 0.5).mean()), 3),
        }
    return result


def _censored(value: float) -> float | str:
    return f">{AFTER}" if value > AFTER else value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="Folder for drift_streams.json.")
    args = parser.parse_args()
    started = time.perf_counter()
    policy = DriftPolicy()
    scored = Scored.load(CHEST)
    density = scored.density
    test = scored.source_parts()["test"]

    def z(name: str, items: list[Any], transform: str = "none") -> ZScores:
        s = scored.scores(name, items, transform)
        return ZScores(
            density.feature_z_many(s.distances),
            density.output_z_many(s.outputs),
            s.distances > density.threshold,
        )

    guangzhou = z("guangzhou-test", test)
    transformed = {name: z("guangzhou-test", test, name) for name in ("inverted", "gamma0.5", "gamma2.0")}
    nih = z("cxr-nih-adult", dataset_items("cxr-nih-adult"))
    foreign = concat(*(z(name, dataset_items(name)) for name in FOREIGN))

    def unchanged(rest: np.ndarray, rng: np.random.Generator) -> ZScores:
        return guangzhou.take(rest[:AFTER])

    def swap(rest: np.ndarray, rng: np.random.Generator) -> ZScores:
        return nih.take(rng.permutation(len(nih.feature))[:AFTER])

    def mixture(share: float) -> Change:
        def mixed(rest: np.ndarray, rng: np.random.Generator) -> ZScores:
            is_foreign = rng.random(AFTER) < share
            own = guangzhou.take(rest[: int((~is_foreign).sum())])
            other = foreign.take(rng.permutation(len(foreign.feature))[: int(is_foreign.sum())])
            parts = [own, other]
            slots = np.empty(AFTER, dtype=np.int64)
            slots[~is_foreign] = np.arange(int((~is_foreign).sum()))
            slots[is_foreign] = np.arange(int(is_foreign.sum())) + int((~is_foreign).sum())
            return concat(*parts).take(slots)

        return mixed

    def intensity(name: str) -> Change:
        def changed(rest: np.ndarray, rng: np.random.Generator) -> ZScores:
            return transformed[name].take(rest[:AFTER])

        return changed

    scenarios: dict[str, Change] = {
        "no change (baseline)": unchanged,
        "site swap to NIH adults": swap,
        "10% MRI/CT mixed in": mixture(0.10),
        "25% MRI/CT mixed in": mixture(0.25),
        "50% MRI/CT mixed in": mixture(0.50),
        "intensity inverted (1 - x)": intensity("inverted"),
        "gamma 0.5": intensity("gamma0.5"),
        "gamma 2.0": intensity("gamma2.0"),
    }
    rng = np.random.default_rng(args.seed)
    result: dict[str, Any] = {
        "policy": asdict(policy),
        "version": scored.stored.version,
        "density": {"features": density.features, "threshold": round(density.threshold, 4)},
        "null": null_streams(guangzhou, args.orders, policy, rng),
        "changes": {
            name: change_streams(guangzhou, change, args.orders, policy, rng)
            for name, change in scenarios.items()
        },
        "model_on_guangzhou_test": _harm(scored, test),
        "mean_scores": {
            name: {
                "feature_z": round(float(s.feature.mean()), 3),
                "output_z": round(float(s.output.mean()), 3),
            }
            for name, s in {
                "guangzhou-test": guangzhou,
                "cxr-nih-adult": nih,
                "mri+ct": foreign,
                **transformed,
            }.items()
        },
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, CPU",
        "command": f".venv/bin/python -m bench.drift_streams --orders {args.orders} --seed {args.seed} "
        "--out docs/bench/drift",
    }
    print(markdown(result))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "drift_streams.json").write_text(json.dumps(result, indent=2) + "\n")


def markdown(result: dict[str, Any]) -> str:
    null, policy = result["null"], result["policy"]
    lines = [
        f"Policy k = {policy['k']}, h = {policy['h']}; density `{result['density']['features']}`.",
        "",
        f"Null (Guangzhou test split, {null['orders']} orders, {null['images']:,} images): "
        f"{null['false_alarms']} false alarms = {null['false_alarms_per_2000']} per 2,000 images "
        f"({null['orders_with_an_alarm']} orders with one; {null['which']}).",
        "",
        "| after 100 Guangzhou test images | detected within 500 | median delay | 90th pct delay | "
        "first alarm by | share flagged by the guard |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in result["changes"].items():
        lines.append(
            f"| {name} | {entry['detected_within_500']:.3f} | {entry['median_delay']} | "
            f"{entry['p90_delay']} | {entry['which_first']} | "
            f"{entry['share_flagged_by_the_guard_after']:.3f} |"
        )
    lines += [
        "",
        "| Guangzhou test images | model AUC | sensitivity at 0.5 | specificity at 0.5 | "
        "mean feature z | mean output z |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in result["model_on_guangzhou_test"].items():
        scores = result["mean_scores"]["guangzhou-test" if name == "none" else name]
        lines.append(
            f"| {name} | {entry['auc']:.3f} | {entry['sensitivity@0.5']:.3f} | "
            f"{entry['specificity@0.5']:.3f} | {scores['feature_z']:.2f} | {scores['output_z']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
