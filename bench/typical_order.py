"""TypiClust (Hacohen et al., 2022, "Active Learning on a Budget"), measured as a cold-start order for
the learning queue in bench/learning_order.py (`--cold-start typical`). It did not beat the service's
stratified order on the development splits (docs/adaptation.md), so it lives here, not in the product.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

TYPICAL = "typical_diverse"


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
