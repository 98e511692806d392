"""Augmentation for radiographs and MRI slices, on batches of [0, 1] images.

Geometry: small rotations, scalings and shifts (patient positioning varies; anatomy does not flip,
so left-right flips are off for chest X-rays, where the heart's side matters). Intensity: contrast,
brightness and gamma changes (exposure, detector and windowing differ between sites), and sensor
noise. The `strong` preset widens the intensity ranges: the Guangzhou test split differs from its
train split in exposure and processing in a way its validation part cannot show (docs/models.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentationSpec:
    max_rotation_deg: float = 10.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    max_shift: float = 0.06
    contrast_range: tuple[float, float] = (0.8, 1.2)
    max_brightness: float = 0.08
    gamma_range: tuple[float, float] = (0.8, 1.25)
    horizontal_flip: bool = False
    max_noise_std: float = 0.0
    """Gaussian noise, its standard deviation drawn per image up to this (in [0, 1] grey units)."""


AUGMENTATION_PRESETS: dict[str, AugmentationSpec] = {
    "standard": AugmentationSpec(),
    "strong": AugmentationSpec(
        scale_range=(0.85, 1.15),
        contrast_range=(0.6, 1.5),
        max_brightness=0.15,
        gamma_range=(0.6, 1.6),
        max_noise_std=0.03,
    ),
}


def augment(batch: torch.Tensor, spec: AugmentationSpec, generator: torch.Generator) -> torch.Tensor:
    """(N, 1, H, W) in [0, 1] -> augmented (N, 1, H, W) in [0, 1]."""
    n = batch.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-spec.max_rotation_deg, spec.max_rotation_deg) * math.pi / 180
    scale = uniform(*spec.scale_range)
    shift_x = uniform(-spec.max_shift, spec.max_shift) * 2
    shift_y = uniform(-spec.max_shift, spec.max_shift) * 2
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if spec.horizontal_flip else 1.0
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift_x], 1), torch.stack([sin * flip, cos, shift_y], 1)], 1
    )
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    # Border padding: black corners would be a shortcut feature unrelated to anatomy.
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = uniform(*spec.contrast_range).view(n, 1, 1, 1)
    brightness = uniform(-spec.max_brightness, spec.max_brightness).view(n, 1, 1, 1)
    gamma = uniform(*spec.gamma_range).view(n, 1, 1, 1)
    mean = out.mean(dim=(2, 3), keepdim=True)
    out = (out - mean) * contrast + mean + brightness
    if spec.max_noise_std > 0:
        noise_std = uniform(0.0, spec.max_noise_std).view(n, 1, 1, 1)
        out = out + noise_std * torch.randn(out.shape, generator=generator)
    return out.clamp(0.0, 1.0).pow(gamma)
