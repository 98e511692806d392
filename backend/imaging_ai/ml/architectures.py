"""Networks for single-channel medical images, built from torchvision architectures.

No pretrained weights: nothing may be downloaded at run time, and every shipped version is trained
by this project's own pipeline from its own data.
"""

from __future__ import annotations

from typing import cast

from torch import nn
from torchvision import models


def build_network(architecture: str, num_classes: int) -> nn.Module:
    if architecture == "resnet18":
        network: nn.Module = models.resnet18(weights=None, num_classes=num_classes)
        network.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return network
    if architecture == "mobilenet_v3_small":
        network = models.mobilenet_v3_small(weights=None, num_classes=num_classes)
        features = cast(nn.Sequential, network.features)
        stem = cast(nn.Sequential, features[0])
        first = cast(nn.Conv2d, stem[0])
        stem[0] = nn.Conv2d(1, first.out_channels, kernel_size=3, stride=2, padding=1, bias=False)
        # torchvision's MobileNetV3 uses a batch-norm momentum of 0.01, tuned for long ImageNet runs;
        # over a few short epochs the running statistics lag far behind the weights, and eval-mode
        # outputs collapse to one class (measured: specificity 0 with validation AUC 0.98).
        for module in network.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = 0.1
        return network
    raise ValueError(f"unknown architecture {architecture!r}")


def heatmap_layer(network: nn.Module, architecture: str) -> nn.Module:
    """The last convolutional block: the layer Grad-CAM explains."""
    if architecture == "resnet18":
        layer: nn.Module = network.layer4  # type: ignore[assignment]
        return layer
    if architecture == "mobilenet_v3_small":
        features: nn.Sequential = network.features  # type: ignore[assignment]
        return features[-1]
    raise ValueError(f"unknown architecture {architecture!r}")
