"""The network's own features, taken in the same forward pass as its logits.

The out-of-distribution guard and the drift detector measure how far an image's features lie from
the training images'; taking them from the serving forward pass costs nothing extra and cannot
disagree with the prediction they accompany.

Two kinds of features:
- ``penultimate``: the pooled vector the classifier reads (576 for MobileNetV3-Small, 512 for
  ResNet-18). It encodes what separates the labels and little else: in it, brain MRI and chest CT
  slices sent to the shipped chest version lie hardly further from its training images than normal
  chest X-rays do (AUROC of the distance 0.953 against the Guangzhou test split; docs/bench/ood).
- ``stages`` (what the feature densities use): the spatial mean of the output of every stage of
  the network, the penultimate vector last. The early stages describe intensity and texture, which
  is what changes between modalities, scanners and protocols (AUROC 0.9986 on the same images), as
  in the feature ensemble of Lee et al. (NeurIPS 2018).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn import functional

from imaging_ai.ml.device import CPU, module_device

PENULTIMATE = "penultimate"
STAGES = "stages"
FEATURE_KINDS = (PENULTIMATE, STAGES)

_MOBILENET_STAGE_ENDS = (1, 3, 6, 8, 11)
"""Blocks of MobileNetV3-Small's ``features`` after which the resolution or the width changes (16, 24,
40, 48 and 96 channels); block 12 (576 channels) feeds the classifier."""
_RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")
_DIMENSIONS = {
    ("mobilenet_v3_small", PENULTIMATE): 576,
    ("mobilenet_v3_small", STAGES): 16 + 24 + 40 + 48 + 96 + 576,
    ("resnet18", PENULTIMATE): 512,
    ("resnet18", STAGES): 64 + 128 + 256 + 512,
}


def stage_features_and_logits(
    network: nn.Module, architecture: str, batch: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """([pooled output of each stage (N, C_i)], logits (N, K)) for normalised inputs (N, 1, S, S).

    The steps are torchvision's own ``forward`` with the stages' outputs read on the way, so the
    logits are bit-for-bit those of ``network(batch)`` (a test holds this), and the last pooled vector
    is the one the classifier reads.

    The batch is moved to the network's device; features and logits come back as float32 CPU tensors
    (the feature densities and calibration work on them there; on the CPU this moves nothing).
    """
    pooled, logits = _stage_features_and_logits(network, architecture, batch.to(module_device(network)))
    return [p.float().to(CPU) for p in pooled], logits.float().to(CPU)


def _stage_features_and_logits(
    network: nn.Module, architecture: str, batch: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor]:
    pooled: list[torch.Tensor] = []
    if architecture == "mobilenet_v3_small":
        blocks = cast(nn.Sequential, network.features)
        x = batch
        for index, block in enumerate(blocks):
            x = block(x)
            if index in _MOBILENET_STAGE_ENDS:
                pooled.append(torch.flatten(functional.adaptive_avg_pool2d(x, 1), 1))
        pooled.append(torch.flatten(_call(network, "avgpool", x), 1))
        return pooled, _call(network, "classifier", pooled[-1])
    if architecture == "resnet18":
        x = batch
        for name in ("conv1", "bn1", "relu", "maxpool", *_RESNET_STAGES):
            x = _call(network, name, x)
            if name in _RESNET_STAGES[:-1]:
                pooled.append(torch.flatten(functional.adaptive_avg_pool2d(x, 1), 1))
        pooled.append(torch.flatten(_call(network, "avgpool", x), 1))
        return pooled, _call(network, "fc", pooled[-1])
    raise ValueError(f"unknown architecture {architecture!r}")


def pooled_features_and_logits(
    network: nn.Module, architecture: str, batch: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(penultimate pooled features (N, D), logits (N, K)) for normalised inputs (N, 1, S, S)."""
    stages, logits = stage_features_and_logits(network, architecture, batch)
    return stages[-1], logits


def features_and_logits(
    network: nn.Module, architecture: str, batch: torch.Tensor, kind: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features of the given kind (N, D), logits (N, K)) from one forward pass."""
    stages, logits = stage_features_and_logits(network, architecture, batch)
    if kind == PENULTIMATE:
        return stages[-1], logits
    if kind == STAGES:
        return torch.cat(stages, dim=1), logits
    raise ValueError(f"unknown feature kind {kind!r}")


def feature_dimension(architecture: str, kind: str = PENULTIMATE) -> int:
    try:
        return _DIMENSIONS[(architecture, kind)]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r} or feature kind {kind!r}") from None


def _call(network: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    return cast(torch.Tensor, getattr(network, name)(x))
