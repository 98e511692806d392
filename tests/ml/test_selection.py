"""The learning order's strategies on constructed cases (issue #15)."""

from __future__ import annotations

import numpy as np

from imaging_ai.ml.selection import (
    BADGE,
    RANDOM,
    STRATIFIED,
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
