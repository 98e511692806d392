"""The feature density: features from the serving forward pass, the out-of-distribution threshold, normal
scores, its file in the model store, and the densities of the shipped versions."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
import torch

from imaging_ai.ml.architectures import build_network
from imaging_ai.ml.density_fit import candidate_density, source_split
from imaging_ai.ml.feature_density import FeatureDensity, fit_feature_density, fit_from_features
from imaging_ai.ml.features import (
    PENULTIMATE,
    STAGES,
    feature_dimension,
    features_and_logits,
    pooled_features_and_logits,
)
from imaging_ai.ml.loading import LoadedModel, load_model, model_from_weights, serialise_weights
from imaging_ai.ml.preprocessing import PreprocessingSpec
from imaging_ai.ml.tasks import TASKS
from imaging_ai.settings import PROJECT_ROOT
from imaging_ai.storage.model_store import (
    FEATURE_DENSITY_FILE,
    ModelStoreError,
    WeightsIntegrityError,
    attach_derived_file,
    read_version,
    write_version,
)
from tests.conftest import datasets_dir

SIZE = 32
SHIPPED = {
    "chest-xray-pneumonia": PROJECT_ROOT / "model_store/chest-xray-pneumonia/chest-xray-pneumonia.v1",
    "brain-mri-tumor": PROJECT_ROOT / "model_store/brain-mri-tumor/brain-mri-tumor.v1",
    "chest-ct-covid": PROJECT_ROOT / "model_store/chest-ct-covid/chest-ct-covid.v1",
}


def _images(count: int, seed: int) -> torch.Tensor:
    """A family of smooth synthetic 'radiographs': two bright lobes of varying size and brightness."""
    generator = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
    params = torch.rand(count, 4, generator=generator)
    width = 0.25 + 0.15 * params[:, 0, None, None]
    lobes = torch.exp(-(((x.abs() - 0.45) ** 2) + (y - 0.2 * params[:, 1, None, None] + 0.1) ** 2) / width)
    images = (
        0.2
        + 0.6 * params[:, 2, None, None] * lobes
        + 0.05 * torch.randn(count, SIZE, SIZE, generator=generator)
    )
    return images.clamp(0, 1)


def _model(architecture: str = "mobilenet_v3_small", density: FeatureDensity | None = None) -> LoadedModel:
    torch.manual_seed(0)
    network = build_network(architecture, 2)
    return model_from_weights(
        serialise_weights(network),
        version="demo.v1",
        task=TASKS["chest-xray-pneumonia"],
        architecture=architecture,
        preprocessing=PreprocessingSpec(input_size=SIZE, mean=0.5, std=0.25),
        temperature=0.8,
        density=density,
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[LoadedModel, FeatureDensity]:
    model = _model()
    density = fit_feature_density(model, _images(600, seed=1), _images(400, seed=2))
    model.density = density
    return model, density


@pytest.mark.parametrize("architecture", ["mobilenet_v3_small", "resnet18"])
def test_features_come_from_the_forward_pass_that_gives_the_logits(architecture: str) -> None:
    model = _model(architecture)
    batch = model.normalise_images(_images(5, seed=3))
    with torch.inference_mode():
        features, logits = pooled_features_and_logits(model.network, architecture, batch)
        assert torch.equal(logits, model.network(batch))
        stages, stage_logits = features_and_logits(model.network, architecture, batch, STAGES)
        assert torch.equal(stage_logits, logits)
        # The penultimate vector is what the classifier reads, and the stages' vector ends with it.
        head = model.network.classifier if architecture == "mobilenet_v3_small" else model.network.fc
        assert torch.equal(head(features), logits)
    assert features.shape == (5, feature_dimension(architecture, PENULTIMATE))
    assert stages.shape == (5, feature_dimension(architecture, STAGES))
    assert torch.equal(stages[:, -features.shape[1] :], features)


def test_predict_scored_is_predict_plus_the_distance_and_the_features(
    fitted: tuple[LoadedModel, FeatureDensity],
) -> None:
    model, density = fitted
    batch = model.normalise_images(_images(6, seed=4))
    scored = model.predict_scored(batch)
    assert scored.shape == (6, 3 + feature_dimension(model.architecture, PENULTIMATE))
    assert torch.equal(scored[:, :2], model.predict(batch))
    with torch.inference_mode():
        features, _ = features_and_logits(model.network, model.architecture, batch, density.features)
        penultimate, _ = features_and_logits(model.network, model.architecture, batch, PENULTIMATE)
    assert torch.allclose(scored[:, 2].double(), density.distance(features), rtol=1e-6)
    assert torch.allclose(scored[:, 3:], penultimate)
    assert torch.isnan(_model().predict_scored(batch)[:, 2]).all()


def test_in_distribution_images_are_flagged_about_as_often_as_the_quantile_says(
    fitted: tuple[LoadedModel, FeatureDensity],
) -> None:
    model, density = fitted
    scored = model.predict_scored(model.normalise_images(_images(2000, seed=5)))
    flagged = float((scored[:, 2] > density.threshold).float().mean())
    assert 0.001 <= flagged <= 0.03, flagged


@pytest.mark.parametrize(
    "foreign",
    [
        lambda images: 1 - images,  # inverted
        lambda images: (
            (torch.arange(SIZE)[None, :, None] // 4 + torch.arange(SIZE)[None, None, :] // 4)
            % 2
            * torch.ones_like(images)
        ),  # a checkerboard, nothing like the training images
    ],
    ids=["inverted", "checkerboard"],
)
def test_clearly_different_images_are_out_of_distribution(
    fitted: tuple[LoadedModel, FeatureDensity], foreign: object
) -> None:
    model, density = fitted
    images = foreign(_images(200, seed=6)).float()  # type: ignore[operator]
    distances = model.predict_scored(model.normalise_images(images))[:, 2]
    assert all(density.is_out_of_distribution(float(d)) for d in distances)


def test_round_trip_through_bytes_changes_nothing(fitted: tuple[LoadedModel, FeatureDensity]) -> None:
    _, density = fitted
    again = FeatureDensity.from_bytes(density.to_bytes())
    for name in ("mean", "precision", "reference_distances", "reference_outputs"):
        assert np.array_equal(getattr(again, name), getattr(density, name)), name
    assert (again.threshold, again.quantile, again.shrinkage, again.fit_count) == (
        density.threshold,
        density.quantile,
        density.shrinkage,
        density.fit_count,
    )
    features = torch.randn(10, density.dimension)
    assert torch.equal(again.distance(features), density.distance(features))


def test_a_file_that_needs_pickle_or_is_not_a_density_is_refused() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array([{"format": 1}], dtype=object))
    with pytest.raises(ValueError):
        FeatureDensity.from_bytes(buffer.getvalue())
    with pytest.raises(ValueError):
        FeatureDensity.from_bytes(b"not a zip file")


def test_normal_scores_of_the_reference_points_centre_on_zero(
    fitted: tuple[LoadedModel, FeatureDensity],
) -> None:
    _, density = fitted
    scores = density.feature_z_many(density.reference_distances)
    assert abs(float(scores.mean())) < 1e-9 and abs(float(np.median(scores))) < 0.01
    assert 0.8 < float(scores.std()) < 1.0
    largest = float(density.reference_distances[-1])
    beyond = density.feature_z(largest * 1.01)
    assert beyond == density.feature_z(1e30) > density.feature_z(largest) == float(scores.max())
    n = len(density.reference_distances)
    assert beyond == pytest.approx(NormalDist().inv_cdf((n + 0.5) / (n + 1)))
    assert density.feature_z(0.0) == pytest.approx(-beyond)
    assert np.isnan(density.feature_z(float("nan")))


def test_output_scores_give_ties_their_mid_rank() -> None:
    # 60% of the references tied at one value (as many confident outputs sit at ~0.99).
    outputs = np.concatenate([np.linspace(0.0, 0.5, 40), np.full(60, 0.99)])
    density = fit_from_features(
        np.random.default_rng(0).normal(size=(50, 3)), np.eye(3).repeat(2, 0), outputs
    )
    tied = density.output_z(0.99)
    # less = 40, equal = 60 of n = 100: u = (40 + 30 + 0.5) / 101.
    assert tied == pytest.approx(NormalDist().inv_cdf(70.5 / 101))
    assert abs(float(density.output_z_many(outputs).mean())) < 0.15
    assert density.output_z(1.0) > tied > density.output_z(0.5)


def test_new_in_distribution_images_score_about_standard_normal(
    fitted: tuple[LoadedModel, FeatureDensity],
) -> None:
    model, density = fitted
    distances = model.predict_scored(model.normalise_images(_images(1000, seed=7)))[:, 2].numpy()
    scores = density.feature_z_many(distances)
    assert abs(float(scores.mean())) < 0.15 and 0.8 < float(scores.std()) < 1.2


def _write(root: Path, density: FeatureDensity, card: dict[str, object] | None = None) -> Path:
    model = _model()
    stored = write_version(
        root,
        version="demo.v2",
        task="chest-xray-pneumonia",
        weights=serialise_weights(model.network),
        card=card or {"architecture": "mobilenet_v3_small", "calibration": {"temperature": 0.8}},
        preprocessing=model.preprocessing.to_dict(),
        extras={FEATURE_DENSITY_FILE: density.to_bytes()},
    )
    return stored.path


def test_a_version_written_with_its_density_loads_it_and_refuses_it_tampered(
    tmp_path: Path, fitted: tuple[LoadedModel, FeatureDensity]
) -> None:
    _, density = fitted
    path = _write(tmp_path, density)
    stored = read_version(path)
    data = (path / FEATURE_DENSITY_FILE).read_bytes()
    assert stored.card["files"] == {FEATURE_DENSITY_FILE: hashlib.sha256(data).hexdigest()}
    loaded = load_model(stored)
    assert loaded.density is not None and loaded.density.threshold == density.threshold
    assert load_model(stored, with_density=False).density is None

    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0xFF
    (path / FEATURE_DENSITY_FILE).write_bytes(bytes(tampered))
    with pytest.raises(WeightsIntegrityError):
        stored.read_verified_extra(FEATURE_DENSITY_FILE)
    with pytest.raises(WeightsIntegrityError):
        load_model(stored)
    (path / FEATURE_DENSITY_FILE).unlink()
    with pytest.raises(ModelStoreError):
        load_model(stored)


def test_files_the_card_does_not_list_are_not_part_of_the_version(
    tmp_path: Path, fitted: tuple[LoadedModel, FeatureDensity]
) -> None:
    _, density = fitted
    # A card copied from another version does not vouch for that version's files.
    card = {
        "architecture": "mobilenet_v3_small",
        "calibration": {"temperature": 0.8},
        "files": {"x.bin": "0"},
    }
    path = _write(tmp_path, density, card)
    assert set(read_version(path).card["files"]) == {FEATURE_DENSITY_FILE}
    (path / "stray.npz").write_bytes(b"anything")
    assert read_version(path).read_verified_extra("stray.npz") is None
    for name in ("weights.pt", "card.json", "../escape", ".hidden"):
        with pytest.raises(ValueError):
            write_version(
                tmp_path,
                version="demo.v3",
                task="demo",
                weights=b"w",
                card={},
                preprocessing={},
                extras={name: b"x"},
            )


def test_attaching_a_derived_file_leaves_the_weights_and_records_its_hash(
    tmp_path: Path, fitted: tuple[LoadedModel, FeatureDensity]
) -> None:
    _, density = fitted
    model = _model()
    stored = write_version(
        tmp_path,
        version="demo.v4",
        task="chest-xray-pneumonia",
        weights=serialise_weights(model.network),
        card={"architecture": "mobilenet_v3_small", "calibration": {"temperature": 0.8}},
        preprocessing=model.preprocessing.to_dict(),
    )
    weights_before = stored.weights_path.read_bytes()
    assert load_model(stored).density is None
    updated = attach_derived_file(
        stored.path, FEATURE_DENSITY_FILE, density.to_bytes(), card_fields={"feature_density": {"n": 1}}
    )
    assert updated.weights_path.read_bytes() == weights_before
    assert updated.weights_sha256 == stored.weights_sha256 and updated.card["feature_density"] == {"n": 1}
    assert load_model(updated).density is not None
    assert not list(stored.path.glob(".*"))
    with pytest.raises(ValueError):
        attach_derived_file(stored.path, "x.npz", b"", card_fields={"weights_sha256": "0" * 64})


def test_a_candidate_with_too_few_validation_images_holds_out_part_of_its_training_images() -> None:
    model = _model()
    with_validation = candidate_density(model, _images(100, seed=8), _images(40, seed=9))
    assert with_validation is not None
    assert (with_validation.fit_count, len(with_validation.reference_distances)) == (100, 40)
    fallback = candidate_density(model, _images(100, seed=8), _images(5, seed=9))
    assert fallback is not None
    assert (fallback.fit_count, len(fallback.reference_distances)) == (80, 20)
    assert candidate_density(model, _images(8, seed=8), _images(5, seed=9)) is None


@pytest.mark.parametrize("task", sorted(SHIPPED))
def test_the_shipped_versions_split_is_reproduced_and_keeps_the_test_split_out(task: str) -> None:
    stored = read_version(SHIPPED[task])
    _, split = source_split(stored, datasets_dir())
    fitted_on = {item.path for item in split.train} | {item.path for item in split.validation}
    assert fitted_on.isdisjoint(item.path for item in split.test)
    assert len(split.test) == sum(stored.card["training_data"]["counts_per_label"]["test"].values())


@pytest.mark.parametrize("task", sorted(SHIPPED))
def test_the_shipped_versions_load_with_a_verified_density(task: str) -> None:
    stored = read_version(SHIPPED[task])
    data = (stored.path / FEATURE_DENSITY_FILE).read_bytes()
    assert stored.card["files"][FEATURE_DENSITY_FILE] == hashlib.sha256(data).hexdigest()
    model = load_model(stored)
    assert model.density is not None
    assert model.density.features == STAGES
    assert model.density.dimension == feature_dimension(stored.card["architecture"], STAGES)
    summary = stored.card["feature_density"]
    assert summary["threshold"] == round(model.density.threshold, 4)
    assert "validation part" in summary["holdout"]
    json.dumps(summary)
