"""Grad-CAM (Selvaraju et al., 2017): where in the image the evidence for a label came from."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from imaging_ai.ml.architectures import heatmap_layer
from imaging_ai.ml.device import CPU
from imaging_ai.ml.loading import LoadedModel


def grad_cam(model: LoadedModel, tensor: torch.Tensor, class_index: int) -> np.ndarray:
    """Class activation map in [0, 1] at the input's resolution, for one (1, S, S) input; computed in
    float32 on the model's device (no autocast), returned from the CPU."""
    layer = heatmap_layer(model.network, model.architecture)
    captured: dict[str, torch.Tensor] = {}

    def keep_activation(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        output.retain_grad()
        captured["activation"] = output

    # Hooks mutate the shared network: one heatmap at a time per model.
    with model.lock:
        handle = layer.register_forward_hook(keep_activation)
        try:
            with torch.enable_grad():
                inputs = tensor.unsqueeze(0).to(model.device, torch.float32).clone().requires_grad_(True)
                logits = model.network(inputs)
                model.network.zero_grad(set_to_none=True)
                logits[0, class_index].backward()
        finally:
            handle.remove()
        activation = captured["activation"].detach()[0]
        gradient = captured["activation"].grad
        assert gradient is not None
        weights = gradient[0].mean(dim=(1, 2))
    cam = torch.relu((weights[:, None, None] * activation).sum(dim=0))
    cam = torch.nn.functional.interpolate(
        cam[None, None], size=tensor.shape[-2:], mode="bilinear", align_corners=False
    )[0, 0].to(CPU)
    peak = float(cam.max())
    return (cam / peak).numpy() if peak > 0 else np.zeros(tuple(tensor.shape[-2:]), dtype=np.float32)


def _colormap(values: np.ndarray) -> np.ndarray:
    """A perceptually ordered blue-to-red map (no matplotlib dependency) -> (H, W, 3) uint8."""
    stops = np.array(
        [[0.0, 0, 0, 130], [0.25, 0, 90, 255], [0.5, 0, 220, 180], [0.75, 255, 210, 0], [1.0, 220, 0, 0]]
    )
    channels = [np.interp(values, stops[:, 0], stops[:, k]) for k in (1, 2, 3)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def overlay_png(display: np.ndarray, cam: np.ndarray, *, max_size: int = 512, opacity: float = 0.45) -> bytes:
    """The grey image with the heatmap blended over it (weighted by the heatmap itself), as PNG."""
    grey = Image.fromarray((np.clip(display, 0, 1) * 255).astype(np.uint8), mode="L")
    scale = min(1.0, max_size / max(grey.size))
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    grey = grey.resize(size, Image.Resampling.BILINEAR)
    cam_image = Image.fromarray(cam.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR)
    cam_resized = np.clip(np.asarray(cam_image), 0, 1)
    base = np.repeat(np.asarray(grey, dtype=np.float32)[..., None], 3, axis=-1)
    alpha = (opacity * cam_resized)[..., None]
    blended = (1 - alpha) * base + alpha * _colormap(cam_resized).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(blended.clip(0, 255).astype(np.uint8), mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()
