"""Choosing which waiting cases to ask clinicians to verify next, so that each verdict teaches most.

Three orders, each a plain function of arrays, combined by `learning_order`:

- **random**: by a per-case uniform key. A fixed share of the queue is drawn this way, so the verdicts
  the model learns from (and the gate and audits that read them) are never wholly chosen by the model.
- **stratified by estimated error**: while the serving version is uninformative at a site (no better
  than guessing its commonest label), its own uncertainty means little; cases are drawn from its
  predicted-label strata in proportion to each stratum's estimated error rate times its size
  (Neyman-style allocation), at random within a stratum.
- a caller may supply its own order for that phase (`cold_start`); bench/typical_order.py measures
  TypiClust this way, which did not beat the stratified order (docs/adaptation.md).
- **uncertainty and diversity (BADGE)**: once it is informative, each case's gradient embedding (the
  gradient of the loss at the predicted label with respect to the last layer, (p - onehot) x features)
  is large where the model is unsure and points where the case differs; k-means++ seeding over the
  embeddings picks cases that are both uncertain and unlike the ones already picked (Ash et al., 2020,
  "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

RANDOM = "random"
STRATIFIED = "stratified"
BADGE = "uncertain_diverse"


@dataclass(frozen=True)
class Pick:
    index: int
    strategy: str
    """`random`, `stratified`, `uncertain_diverse`, or the name of a caller's cold-start order."""
    detail: float | None = None
    """For a stratified pick, its stratum's estimated error; for BADGE, the embedding's norm; for a
    cold-start pick, what the caller's order says."""


def gradient_embeddings(
    probabilities: NDArray[np.floating], features: NDArray[np.floating]
) -> NDArray[np.float64]:
    """(N, K x D): for each case, (p - onehot(argmax p)) outer its penultimate features."""
    p = np.asarray(probabilities, dtype=np.float64)
    h = np.asarray(features, dtype=np.float64)
    residual = p.copy()
    residual[np.arange(len(p)), p.argmax(axis=1)] -= 1.0
    return (residual[:, :, None] * h[:, None, :]).reshape(len(p), -1)


def badge_order(embeddings: NDArray[np.floating], count: int, rng: np.random.Generator) -> list[int]:
    """k-means++ seeding: the largest embedding first, then each next case with probability
    proportional to its squared distance from the nearest case already picked."""
    g = np.asarray(embeddings, dtype=np.float64)
    n = len(g)
    if n == 0 or count <= 0:
        return []
    norms = np.einsum("ij,ij->i", g, g)
    first = int(np.argmax(norms))
    picked = [first]
    nearest = np.einsum("ij,ij->i", g - g[first], g - g[first])
    while len(picked) < min(count, n):
        weights = nearest.copy()
        weights[picked] = 0.0
        total = weights.sum()
        if total <= 0:  # every remaining case coincides with a picked one: take them by size
            rest = [i for i in np.argsort(-norms, kind="stable") if i not in set(picked)]
            picked.extend(int(i) for i in rest[: min(count, n) - len(picked)])
            break
        chosen = int(rng.choice(n, p=weights / total))
        picked.append(chosen)
        nearest = np.minimum(nearest, np.einsum("ij,ij->i", g - g[chosen], g - g[chosen]))
    return picked


def stratified_order(
    strata: Sequence[str], error_rates: dict[str, float], keys: NDArray[np.floating], count: int
) -> list[tuple[int, float]]:
    """Cases in the order a Neyman-style allocation draws them: at each step the stratum with the
    largest (estimated error x waiting cases) / (already drawn + 1), its case of smallest key."""
    members: dict[str, list[int]] = {}
    for index in np.argsort(np.asarray(keys), kind="stable"):
        members.setdefault(strata[int(index)], []).append(int(index))
    size = {stratum: len(items) for stratum, items in members.items()}
    drawn = dict.fromkeys(members, 0)
    order: list[tuple[int, float]] = []
    while len(order) < count and any(members.values()):
        stratum = max(
            (s for s in members if members[s]),
            key=lambda s: (error_rates.get(s, 0.5) * size[s] / (drawn[s] + 1), s),
        )
        order.append((members[stratum].pop(0), error_rates.get(stratum, 0.5)))
        drawn[stratum] += 1
    return order


def learning_order(
    *,
    keys: NDArray[np.floating],
    random_share: float,
    count: int,
    informative: bool,
    strata: Sequence[str],
    error_rates: dict[str, float],
    embeddings: NDArray[np.floating] | None,
    rng: np.random.Generator,
    cold_start: tuple[str, Sequence[tuple[int, float | None]]] | None = None,
) -> list[Pick]:
    """The first `count` cases of the learning queue: position i is a random draw when
    floor((i + 1) x share) > floor(i x share), else the strategy's next case not yet taken.

    The strategy: BADGE on `embeddings` when `informative`; otherwise stratified by estimated error,
    or the caller's `cold_start` order, (its name, (index, detail) of the cases in order), when given."""
    n = len(keys)
    count = min(count, n)
    by_key = [int(i) for i in np.argsort(np.asarray(keys), kind="stable")]
    # The strategy's first `count` cases suffice: each random pick takes at most one of them.
    strategy: list[tuple[int, float | None]]
    if informative and embeddings is not None:
        name = BADGE
        norms = np.linalg.norm(np.asarray(embeddings, dtype=np.float64), axis=1)
        strategy = [(i, round(float(norms[i]), 4)) for i in badge_order(embeddings, count, rng)]
    elif cold_start is not None:
        name, order = cold_start
        strategy = list(order)
    else:
        name = STRATIFIED
        strategy = [(i, e) for i, e in stratified_order(strata, error_rates, keys, count)]
    taken: set[int] = set()
    picks: list[Pick] = []
    random_next = strategy_next = 0
    for position in range(count):
        if int((position + 1) * random_share) > int(position * random_share):
            while by_key[random_next] in taken:
                random_next += 1
            index, pick = by_key[random_next], Pick(by_key[random_next], RANDOM)
        else:
            while strategy[strategy_next][0] in taken:
                strategy_next += 1
            index, detail = strategy[strategy_next]
            pick = Pick(index, name, detail)
        taken.add(index)
        picks.append(pick)
    return picks
