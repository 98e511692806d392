"""The learning order's strategies on constructed cases (issue #15)."""

from __future__ import annotations

import numpy as np
from bench.typical_order import TYPICAL, typical_order

from imaging_ai.ml.selection import (
    BADGE,
    RANDOM,
    STRATIFIED,
    Pick,
    badge_order,
    gradient_embeddings,
    learning_order,
    stratified_order,
)


def _clusters(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three tight clusters of 10 cases in feature space, all equally uncertain."""
    centres = np.array([[10.0, 0, 0, 0], [0, 10.0, 0, 0], [0, 0, 10.0, 0]])
    features = np.concatenate([c + rng.normal(0, 0.05, size=(10, 4)) for c in centres])
    probabilities = np.tile([0.6, 0.4], (30, 1))
    return probabilities, features


def test_gradient_embeddings_vanish_for_confident_cases_and_grow_with_doubt() -> None:
    features = np.ones((3, 2))
    probabilities = np.array([[1.0, 0.0], [0.9, 0.1], [0.55, 0.45]])
    g = gradient_embeddings(probabilities, features)
    assert g.shape == (3, 4)
    norms = np.linalg.norm(g, axis=1)
    assert norms[0] == 0.0 and norms[0] < norms[1] < norms[2]
    # (p - onehot(argmax)) outer h: [-0.1, 0.1] x [1, 1]
    assert np.allclose(g[1], [-0.1, -0.1, 0.1, 0.1])


def test_badge_takes_one_case_from_each_cluster_before_a_second_from_any() -> None:
    rng = np.random.default_rng(0)
    probabilities, features = _clusters(rng)
    for seed in range(20):
        order = badge_order(gradient_embeddings(probabilities, features), 3, np.random.default_rng(seed))
        assert sorted(i // 10 for i in order) == [0, 1, 2], (seed, order)


def test_badge_prefers_uncertain_cases_within_equally_diverse_ones() -> None:
    features = np.eye(4) * 5
    probabilities = np.array([[0.99, 0.01], [0.6, 0.4], [0.98, 0.02], [0.97, 0.03]])
    assert badge_order(gradient_embeddings(probabilities, features), 1, np.random.default_rng(0)) == [1]


def test_stratified_order_draws_in_proportion_to_estimated_error() -> None:
    strata = ["normal"] * 10 + ["pneumonia"] * 10
    keys = np.linspace(0, 1, 20)
    order = stratified_order(strata, {"normal": 0.4, "pneumonia": 0.1}, keys, 10)
    drawn = [strata[i] for i, _ in order]
    assert drawn.count("normal") == 8 and drawn.count("pneumonia") == 2
    # Within a stratum, by key.
    normals = [i for i, _ in order if strata[i] == "normal"]
    assert normals == sorted(normals)
    assert order[0] == (0, 0.4)


def test_the_random_share_takes_its_positions_in_key_order() -> None:
    rng = np.random.default_rng(1)
    probabilities, features = _clusters(rng)
    keys = rng.random(30)
    picks = learning_order(
        keys=keys,
        random_share=0.25,
        count=12,
        informative=True,
        strata=["x"] * 30,
        error_rates={},
        embeddings=gradient_embeddings(probabilities, features),
        rng=np.random.default_rng(0),
    )
    assert [p.strategy for p in picks].count(RANDOM) == 3
    assert [i for i, p in enumerate(picks) if p.strategy == RANDOM] == [3, 7, 11]
    assert {p.strategy for p in picks} == {RANDOM, BADGE}
    assert len({p.index for p in picks}) == 12  # never the same case twice
    taken_before = {p.index for p in picks[:3]}
    expected_first_random = next(int(i) for i in np.argsort(keys) if int(i) not in taken_before)
    assert picks[3].index == expected_first_random


def test_an_uninformative_model_is_stratified_and_share_zero_has_no_random_draws() -> None:
    keys = np.linspace(0, 1, 6)
    picks = learning_order(
        keys=keys,
        random_share=0.0,
        count=6,
        informative=False,
        strata=["a", "a", "a", "b", "b", "b"],
        error_rates={"a": 0.5, "b": 0.5},
        embeddings=None,
        rng=np.random.default_rng(0),
    )
    assert {p.strategy for p in picks} == {STRATIFIED}
    assert sorted(p.index for p in picks) == list(range(6))
    assert [p.detail for p in picks] == [0.5] * 6


def _uneven_clusters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Well-separated clusters of 40, 25 and 10 cases in 3 dimensions, each with one outlier on its
    edge. Returns the features, each case's cluster and the outliers' indices."""
    rng = np.random.default_rng(3)
    features, cluster, outliers = [], [], []
    for c, size in enumerate((40, 25, 10)):
        centre = np.zeros(3)
        centre[c] = 60.0
        features.append(centre + rng.normal(0, 1.0, size=(size, 3)))
        outlier = centre.copy()
        outlier[(c + 1) % 3] = 7.0
        features.append(outlier[None, :])
        cluster += [c] * (size + 1)
        outliers.append(len(cluster) - 1)
    return np.concatenate(features), np.array(cluster), np.array(outliers)


def test_typical_order_covers_every_cluster_largest_first_with_a_dense_case() -> None:
    features, cluster, outliers = _uneven_clusters()
    for seed in range(10):
        order = typical_order(features, 3, np.random.default_rng(seed), chunk=3)
        picked = [i for i, _ in order]
        assert [int(cluster[i]) for i in picked] == [0, 1, 2], (seed, picked)
        assert [size for _, size in order] == [41.0, 26.0, 11.0]
        for i in picked:
            members = features[cluster == cluster[i]]
            centre = members.mean(axis=0)
            distances = np.linalg.norm(members - centre, axis=1)
            assert i not in outliers
            # Typical: among the closest third of its cluster to the cluster's centre.
            assert np.linalg.norm(features[i] - centre) <= np.quantile(distances, 1 / 3), (seed, i)


def test_typical_order_skips_clusters_the_verified_cases_cover_and_extends_a_shorter_queue() -> None:
    features, cluster, _ = _uneven_clusters()
    verified = features[cluster == 0][:2] + 0.01  # two verified cases in the largest cluster
    for seed in range(5):
        [(first, size)] = typical_order(features, 1, np.random.default_rng(seed), labelled=verified, chunk=1)
        assert int(cluster[first]) == 1 and size == 26.0, seed
    short = typical_order(features, 3, np.random.default_rng(5), chunk=3)
    long = typical_order(features, 9, np.random.default_rng(5), chunk=3)
    assert long[:3] == short
    assert len({i for i, _ in long}) == 9  # never the same case twice


def test_learning_order_while_uninformative_follows_a_cold_start_order_and_keeps_the_random_share() -> None:
    features, _, _ = _uneven_clusters()
    keys = np.random.default_rng(2).random(len(features))

    def uninformative_order(**cold_start: tuple[str, list[tuple[int, float]]]) -> list[Pick]:
        return learning_order(
            keys=keys,
            random_share=0.25,
            count=8,
            informative=False,
            strata=["normal"] * len(features),
            error_rates={},
            embeddings=None,
            rng=np.random.default_rng(0),
            **cold_start,
        )

    typical = typical_order(features, 8, np.random.default_rng(0))
    picks = uninformative_order(cold_start=(TYPICAL, typical))
    assert [i for i, p in enumerate(picks) if p.strategy == RANDOM] == [3, 7]
    assert {p.strategy for p in picks} == {RANDOM, TYPICAL}
    assert len({p.index for p in picks}) == 8
    randoms = [p.index for p in picks if p.strategy == RANDOM]
    assert randoms[0] == next(int(i) for i in np.argsort(keys) if int(i) not in {p.index for p in picks[:3]})
    # Without a cold-start order the uninformative order stays stratified.
    stratified = uninformative_order()
    assert {p.strategy for p in stratified} == {RANDOM, STRATIFIED}
