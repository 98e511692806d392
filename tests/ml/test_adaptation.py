"""Fine-tuning: replay is mixed in one for one, batch-norm statistics can be kept, the parent is untouched."""

from __future__ import annotations

from pathlib import Path

import torch

from imaging_ai.ml.adaptation import AdaptationParams, fine_tune
from imaging_ai.ml.architectures import build_network
from imaging_ai.ml.data import ImageSet
from imaging_ai.ml.loading import LoadedModel
from imaging_ai.ml.manifest import ManifestItem
from imaging_ai.ml.preprocessing import PreprocessingSpec
from imaging_ai.ml.tasks import TASKS


def image_set(n: int, seed: int) -> ImageSet:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 32, 32, generator=generator) * 0.5 + labels.view(-1, 1, 1) * 0.4
    items = [
        ManifestItem(Path(f"{seed}-{i}"), ("normal", "pneumonia")[int(labels[i])], "s", "", None)
        for i in range(n)
    ]
    return ImageSet(images=images, labels=labels, items=items)


def parent() -> LoadedModel:
    torch.manual_seed(0)
    network = build_network("mobilenet_v3_small", 2)
    network.eval()
    return LoadedModel(
        version="p", task=TASKS["chest-xray-pneumonia"], architecture="mobilenet_v3_small", network=network,
        preprocessing=PreprocessingSpec(32, 0.5, 0.25), temperature=1.0,
    )  # fmt: skip


def _bn_means(network: torch.nn.Module) -> list[torch.Tensor]:
    return [m.running_mean.clone() for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d)]  # type: ignore[union-attr]


def test_fine_tuning_keeps_batchnorm_statistics_and_the_parent() -> None:
    model = parent()
    before_parent = {k: v.clone() for k, v in model.network.state_dict().items()}
    params = AdaptationParams(epochs=2, batch_size=8, freeze_batchnorm=True, replay_ratio=2, max_replay=40)
    result = fine_tune(model, image_set(24, 1), image_set(12, 2), image_set(100, 3), params=params)
    assert result.replayed == 40  # two replayed source images per site case, capped
    for kept, original in zip(_bn_means(result.training.network), _bn_means(model.network), strict=True):
        assert torch.equal(kept, original)
    changed = any(
        not torch.equal(v, before_parent[k])
        for k, v in result.training.network.state_dict().items()
        if "weight" in k
    )
    assert changed, "fine-tuning must change the weights"
    for k, v in model.network.state_dict().items():
        assert torch.equal(v, before_parent[k]), "the parent must not be modified"


def test_batchnorm_statistics_move_when_not_frozen() -> None:
    model = parent()
    params = AdaptationParams(epochs=1, batch_size=8, freeze_batchnorm=False, replay_ratio=0)
    result = fine_tune(model, image_set(24, 1), image_set(12, 2), None, params=params)
    assert result.replayed == 0
    assert any(
        not torch.equal(a, b)
        for a, b in zip(_bn_means(result.training.network), _bn_means(model.network), strict=True)
    )
