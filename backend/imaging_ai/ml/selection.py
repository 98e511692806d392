"""Choosing which waiting cases to ask clinicians to verify next, so that each verdict teaches most.

Four orders, each a plain function of arrays, combined by `learning_order`:

- **random**: by a per-case uniform key. A fixed share of the queue is drawn this way, so the verdicts
  the model learns from (and the gate and audits that read them) are never wholly chosen by the model.
- **stratified by estimated error**: while the serving version is uninformative at a site (no better
  than guessing its commonest label), its own uncertainty means little; cases are drawn from its
  predicted-label strata in proportion to each stratum's estimated error rate times its size
  (Neyman-style allocation), at random within a stratum.
- **typical and diverse (TypiClust)**, the alternative for that uninformative phase, used only when
  `learning_order` is given the cases' features: the waiting and verified cases are clustered
  (k-means, as many clusters as verified cases plus cases wanted) and each next case is the most
  typical (densest) waiting case of the largest cluster that no verified or already chosen case covers
  (Hacohen et al., 2022, "Active Learning on a Budget"). Measured in bench/learning_order.py on the
  development splits it did not beat the stratified order or random at 50 verdicts, so the service's
  learning queue does not use it (docs/adaptation.md).
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
TYPICAL = "typical_diverse"
BADGE = "uncertain_diverse"


@dataclass(frozen=True)
class Pick:
    index: int
    strategy: str
    """`random`, `typical_diverse`, `stratified` or `uncertain_diverse`."""
    detail: float | None = None
    """For a typical pick, the size of the cluster it stands for; for a stratified pick, its stratum's
    estimated error; for BADGE, the embedding's norm."""


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


def _reduce(rows: NDArray[np.float64], dimensions: int) -> NDArray[np.float64]:
    """Standardised, then projected on the leading principal components (k-means and neighbourhoods
    are unreliable in hundreds of dimensions)."""
    z: NDArray[np.float64] = (rows - rows.mean(axis=0)) / (rows.std(axis=0) + 1e-6)
    if z.shape[1] <= dimensions:
        return z
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    return np.asarray(z @ vt[:dimensions].T, dtype=np.float64)


def _squared_distances(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    d = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :] - 2 * a @ b.T
    return np.asarray(np.maximum(d, 0.0), dtype=np.float64)


def kmeans(
    points: NDArray[np.floating], clusters: int, rng: np.random.Generator, iterations: int = 30
) -> NDArray[np.int64]:
    """Cluster of each point: k-means++ seeding, then Lloyd's iterations."""
    x = np.asarray(points, dtype=np.float64)
    n = len(x)
    k = max(1, min(clusters, n))
    centres = [x[int(rng.integers(n))]]
    nearest = _squared_distances(x, centres[0][None, :])[:, 0]
    while len(centres) < k:
        total = nearest.sum()
        chosen = int(rng.choice(n, p=nearest / total)) if total > 0 else int(rng.integers(n))
        centres.append(x[chosen])
        nearest = np.minimum(nearest, _squared_distances(x, x[chosen][None, :])[:, 0])
    c = np.array(centres)
    assignment = np.full(n, -1, dtype=np.int64)
    for _ in range(iterations):
        updated = _squared_distances(x, c).argmin(axis=1)
        if np.array_equal(updated, assignment):
            break
        assignment = updated
        for j in range(k):
            members = assignment == j
            if members.any():
                c[j] = x[members].mean(axis=0)
    return assignment


def typicality(points: NDArray[np.floating], neighbours: int = 20) -> NDArray[np.float64]:
    """1 / mean distance to the `neighbours` nearest other points: high in dense regions."""
    x = np.asarray(points, dtype=np.float64)
    k = min(neighbours, len(x) - 1)
    if k <= 0:
        return np.ones(len(x))
    d = np.sqrt(_squared_distances(x, x))
    np.fill_diagonal(d, np.inf)
    mean = np.sort(d, axis=1)[:, :k].mean(axis=1)
    return np.asarray(1.0 / (mean + 1e-12), dtype=np.float64)


def typical_order(
    features: NDArray[np.floating],
    count: int,
    rng: np.random.Generator,
    *,
    labelled: NDArray[np.floating] | None = None,
    chunk: int = 25,
    dimensions: int = 32,
    neighbours: int = 20,
) -> list[tuple[int, float]]:
    """TypiClust (Hacohen et al., 2022): (index, cluster size) of the waiting cases (`features`, N x D)
    in the order to verify them, given the features of the cases already verified (`labelled`).

    In chunks of `chunk` cases: the waiting and covered cases (verified, or chosen in earlier chunks)
    are clustered into (covered + chunk) clusters, then, `chunk` times, the largest cluster that no
    covered case is in gives its most typical waiting case (the densest: smallest mean distance to its
    `neighbours` nearest neighbours in the cluster), which then covers it. Once every cluster is
    covered, the cluster with the fewest covered cases per member gives the next. A chunk's picks do
    not depend on `count`, so a longer queue extends a shorter one."""
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if n == 0 or count <= 0:
        return []
    known = np.zeros((0, x.shape[1])) if labelled is None else np.asarray(labelled, dtype=np.float64)
    points = _reduce(np.concatenate([x, known.reshape(-1, x.shape[1])]), dimensions)
    covered = np.zeros(len(points), dtype=bool)
    covered[n:] = True
    order: list[tuple[int, float]] = []
    while len(order) < min(count, n):
        cluster = kmeans(points, int(covered.sum()) + chunk, rng)
        sizes = np.bincount(cluster, minlength=cluster.max() + 1).astype(np.float64)
        hits = np.bincount(cluster[covered], minlength=len(sizes)).astype(np.float64)
        density = np.zeros(len(points))
        for j in np.unique(cluster):  # typicality within each cluster, as TypiClust's
            members = np.flatnonzero(cluster == j)
            density[members] = typicality(points[members], neighbours)
        for _ in range(min(chunk, n - len(order))):
            open_clusters = np.unique(cluster[:n][~covered[:n]])
            best = min(open_clusters, key=lambda j: (hits[j] / sizes[j], -sizes[j], j))
            members = np.flatnonzero((cluster[:n] == best) & ~covered[:n])
            index = int(members[np.argmax(density[members])])
            order.append((index, float(sizes[best])))
            covered[index] = True
            hits[best] += 1
    return order


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
    features: NDArray[np.floating] | None = None,
    labelled_features: NDArray[np.floating] | None = None,
) -> list[Pick]:
    """The first `count` cases of the learning queue: position i is a random draw when
    floor((i + 1) x share) > floor(i x share), else the strategy's next case not yet taken.

    The strategy: BADGE on `embeddings` when `informative`; otherwise stratified by estimated error,
    or, when `features` are given, typical and diverse on the waiting cases' features (given those of
    the verified cases, `labelled_features`)."""
    n = len(keys)
    count = min(count, n)
    by_key = [int(i) for i in np.argsort(np.asarray(keys), kind="stable")]
    # The strategy's first `count` cases suffice: each random pick takes at most one of them.
    strategy: list[tuple[int, float | None]]
    if informative and embeddings is not None:
        name = BADGE
        norms = np.linalg.norm(np.asarray(embeddings, dtype=np.float64), axis=1)
        strategy = [(i, round(float(norms[i]), 4)) for i in badge_order(embeddings, count, rng)]
    elif features is not None:
        name = TYPICAL
        strategy = list(typical_order(features, count, rng, labelled=labelled_features))
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
