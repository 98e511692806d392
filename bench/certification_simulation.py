"""How often per-class certification on blind reads certifies wrongly when every verdict is looked at,
against the agreement rule it replaces, and what it costs in blind reads.

    .venv/bin/python -m bench.certification_simulation --deployments 1000 --seed 0 \
        --out docs/bench/certification

Simulated deployments of one class of one (task, site, version): a stream of answers finalised as
the class, each drawn for a blind read with probability 0.25 for the first 1,000 cases (supervised)
and 0.10 after (semi-autonomous), each wrong with the scenario's error. The rules look after EVERY
case, with the service's own functions (`certified_after` is the test `certify_class` runs at each
threshold, and gives the first look at which it passed):

- (a) error at the target (0.05) and above it (0.075): every certification is wrong;
- (b) the same streams under the old rule: a Wilson 95% bound recomputed after every blind read from
  the 200th on, certifying once the error's upper bound is below the target;
- (c) error at half the target (0.025): the blind reads (and cases) until certification, over a
  longer stream, and the share certified within the first 2,000 cases;
- (d) the fixed sequence over `DEFAULT_THRESHOLDS` on a confidence distribution whose error falls with
  confidence (thresholds >= 0.9 below the target, lower ones above it): how often the threshold
  chosen has an error above the target.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT
from imaging_ai.ml.certification import (
    DEFAULT_THRESHOLDS,
    GRID_STEP,
    MAX_BET,
    PRIOR_CASES,
    Audit,
    certified_after,
    certify_class,
)

ALPHA = 0.05
"""One class's share: a level over k classes tests each at ALPHA / k, so this is the k = 1 case."""
TARGET = 0.05
EARLY_PROBABILITY, LATE_PROBABILITY, SWITCH = 0.25, 0.10, 1000
CASES = 2000
LONG_CASES = 8000
AT_TARGET, ABOVE_TARGET, HALF_TARGET = TARGET, 1.5 * TARGET, TARGET / 2
OLD_MIN_VERDICTS = 200
Z_95 = 1.959964
SLOPE, SHAPE = 24.0, 4
"""(d): confidence = 1 - u^SHAPE / 2 with u uniform (a third of the answers at 0.995 or more), and
error(confidence) = min(1, SLOPE * (1 - confidence)^2). While below the cap, the error of the cases at
or above t is SLOPE * (1 - t)^2 / (2 SHAPE + 1): 0.027 at t = 0.9, 0.060 at t = 0.85."""


def probabilities(n: int) -> np.ndarray:
    return np.where(np.arange(n) < SWITCH, EARLY_PROBABILITY, LATE_PROBABILITY)


def audits_of(blind: np.ndarray, wrong: np.ndarray, pi: np.ndarray, confidence: np.ndarray) -> list[Audit]:
    return [
        Audit(float(c), bool(b), float(p), bool(w) if b else None)
        for b, w, p, c in zip(blind, wrong, pi, confidence, strict=True)
    ]


def wilson_upper(errors: np.ndarray, n: np.ndarray) -> np.ndarray:
    rate = errors / n
    z2 = Z_95 * Z_95
    half = Z_95 * np.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n))
    return np.asarray((rate + z2 / (2 * n) + half) / (1 + z2 / n))


def old_rule_reads(wrong_blind: np.ndarray) -> int | None:
    """The blind read after which the old rule first certified (None: never within the stream)."""
    n = np.arange(1, wrong_blind.size + 1, dtype=float)
    passed = wilson_upper(np.cumsum(wrong_blind), n) < TARGET
    passed[: OLD_MIN_VERDICTS - 1] = False
    return int(passed.argmax()) + 1 if passed.any() else None


def interval(successes: int, n: int) -> list[float]:
    """Wilson 95% interval of a share, for the rates reported."""
    if n == 0:
        return [0.0, 1.0]
    p, z2 = successes / n, Z_95 * Z_95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def share(hits: int, n: int) -> dict[str, Any]:
    return {"count": hits, "of": n, "rate": round(hits / n, 4), "ci95": interval(hits, n)}


def quantile_or_none(values: list[float | None], q: float) -> float | None:
    """The q-quantile with never-certified deployments counted as beyond every stream (None if it
    falls on them)."""
    ordered = sorted(values, key=lambda v: math.inf if v is None else v)
    value = ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]
    return value


def false_certification(error: float, deployments: int, seed: int) -> dict[str, Any]:
    """(a) and (b): the share ever certified, by the new rule and by the old one, on the same streams."""
    pi = probabilities(CASES)
    confidence = np.ones(CASES)
    new, old, old_every = 0, 0, 0
    for deployment in range(deployments):
        rng = np.random.default_rng([seed, round(error * 10_000), deployment])
        blind = rng.random(CASES) < pi
        wrong = rng.random(CASES) < error
        new += certified_after(audits_of(blind, wrong, pi, confidence), TARGET, ALPHA) is not None
        old += old_rule_reads(wrong[blind]) is not None
        # The old service had a verdict on every case while supervised, so it looked more often.
        old_every += old_rule_reads(wrong) is not None
    return {
        "true_error": error,
        "new_rule": share(new, deployments),
        "old_rule_on_blind_reads": share(old, deployments),
        "old_rule_on_every_case": share(old_every, deployments),
    }


def reads_needed(deployments: int, seed: int) -> dict[str, Any]:
    """(c): blind reads and cases until certification at half the target, new rule and old."""
    pi = probabilities(LONG_CASES)
    confidence = np.ones(LONG_CASES)
    cases: list[float | None] = []
    reads: list[float | None] = []
    old_reads: list[float | None] = []
    for deployment in range(deployments):
        rng = np.random.default_rng([seed, 25, deployment])
        blind = rng.random(LONG_CASES) < pi
        wrong = rng.random(LONG_CASES) < HALF_TARGET
        at = certified_after(audits_of(blind, wrong, pi, confidence), TARGET, ALPHA)
        cases.append(at)
        reads.append(int(blind[:at].sum()) if at is not None else None)
        old_reads.append(old_rule_reads(wrong[blind]))

    def summary(values: list[float | None]) -> dict[str, Any]:
        return {
            "median": quantile_or_none(values, 0.5),
            "p90": quantile_or_none(values, 0.9),
        }

    within = sum(at is not None and at <= CASES for at in cases)
    return {
        "true_error": HALF_TARGET,
        "stream_cases": LONG_CASES,
        "new_rule": {
            "cases": summary(cases),
            "blind_reads": summary(reads),
            f"certified_within_{CASES}_cases": share(within, deployments),
            f"certified_within_{LONG_CASES}_cases": share(sum(c is not None for c in cases), deployments),
        },
        "old_rule": {
            "blind_reads": summary(old_reads),
            "certified_within_stream": share(sum(r is not None for r in old_reads), deployments),
        },
    }


def true_error_at(threshold: float) -> float:
    """The error of the cases at or above `threshold` under (d)'s model, by quadrature over u."""
    u = (np.arange(200_000) + 0.5) / 200_000
    confidence = 1 - u**SHAPE / 2
    error = np.minimum(1.0, SLOPE * (1 - confidence) ** 2)
    members = confidence >= threshold
    return float(error[members].mean())


def fixed_sequence(deployments: int, seed: int) -> dict[str, Any]:
    """(d): the threshold the fixed sequence certifies, and whether its true error is above the target."""
    truth = {t: round(true_error_at(t), 5) for t in DEFAULT_THRESHOLDS}
    pi = probabilities(LONG_CASES)
    chosen: dict[str, int] = {}
    wrong_choice = 0
    for deployment in range(deployments):
        rng = np.random.default_rng([seed, 4, deployment])
        confidence = 1 - rng.random(LONG_CASES) ** SHAPE / 2
        blind = rng.random(LONG_CASES) < pi
        wrong = rng.random(LONG_CASES) < np.minimum(1.0, SLOPE * (1 - confidence) ** 2)
        result = certify_class(audits_of(blind, wrong, pi, confidence), DEFAULT_THRESHOLDS, TARGET, ALPHA)
        key = "none" if result.threshold is None else str(result.threshold)
        chosen[key] = chosen.get(key, 0) + 1
        wrong_choice += result.threshold is not None and truth[result.threshold] > TARGET
    return {
        "stream_cases": LONG_CASES,
        "true_error_by_threshold": {str(t): e for t, e in truth.items()},
        "chosen_threshold": dict(
            sorted(chosen.items(), key=lambda kv: -1.0 if kv[0] == "none" else -float(kv[0]))
        ),
        "threshold_above_target": share(wrong_choice, deployments),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "certification")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": (
            f"python -m bench.certification_simulation --deployments {args.deployments} --seed {args.seed}"
        ),
        "constants": {
            "alpha": ALPHA,
            "target": TARGET,
            "blind_read_probability": {
                f"cases 1-{SWITCH}": EARLY_PROBABILITY,
                f"cases {SWITCH + 1}-": LATE_PROBABILITY,
            },
            "cases_per_stream": CASES,
            "long_stream_cases": LONG_CASES,
            "old_rule_min_verdicts": OLD_MIN_VERDICTS,
            "grid_step": GRID_STEP,
            "max_bet": MAX_BET,
            "prior_cases": PRIOR_CASES,
            "fixed_sequence_error_model": (
                f"error = min(1, {SLOPE} * (1 - confidence)^2), confidence = 1 - u^{SHAPE} / 2, u uniform"
            ),
        },
    }
    for name, run in (
        ("at_target", lambda: false_certification(AT_TARGET, args.deployments, args.seed)),
        ("above_target", lambda: false_certification(ABOVE_TARGET, args.deployments, args.seed)),
        ("half_target", lambda: reads_needed(args.deployments, args.seed)),
        ("fixed_sequence", lambda: fixed_sequence(args.deployments, args.seed)),
    ):
        results[name] = run()
        print(json.dumps({name: results[name]}), flush=True)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    (args.out / "certification_simulation.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
