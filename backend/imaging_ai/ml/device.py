"""Where torch runs: the CPU or a CUDA GPU, chosen once from the `device` setting and passed down.

Training and inference take a ``torch.device``; weights always leave a device as CPU tensors (so a
version trained on a GPU loads on any machine) and are loaded with ``map_location="cpu"``, then moved.
Mixed precision (float16 autocast) is for the forward and backward passes of training on CUDA only;
calibration, metrics, feature densities and Grad-CAM stay in float32.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Literal

import torch
from torch import nn

CPU = torch.device("cpu")

DeviceSetting = Literal["auto", "cpu", "cuda"]


class DeviceUnavailableError(RuntimeError):
    """The setting asks for a device this machine does not have."""


def resolve_device(setting: str = "auto") -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else the CPU; ``cpu``; ``cuda`` (or ``cuda:N``): that GPU,
    and a clear error when there is none (a GPU worker that silently trains on the CPU is worse)."""
    value = setting.strip().lower()
    if value == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else CPU
    if value == "cpu":
        return CPU
    if value == "cuda" or value.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"IMAGING_AI_DEVICE={setting} but torch sees no CUDA device "
                f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}): "
                "use `auto` or `cpu` on this machine"
            )
        device = torch.device(value)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"IMAGING_AI_DEVICE={setting} but only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return device
    raise ValueError(f"unknown device {setting!r}: expected auto, cpu or cuda")


def uses_mixed_precision(device: torch.device, enabled: bool) -> bool:
    """Mixed precision applies on CUDA only (CPU float16/bfloat16 autocast is slower and less exact)."""
    return enabled and device.type == "cuda"


def autocast_context(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[object]:
    """float16 autocast on CUDA when enabled; on the CPU (or disabled) a no-op."""
    if uses_mixed_precision(device, enabled):
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def grad_scaler(device: torch.device, enabled: bool) -> torch.amp.GradScaler:
    """The loss scaler for float16 training; disabled (a pass-through) unless mixed precision runs."""
    return torch.amp.GradScaler("cuda", enabled=uses_mixed_precision(device, enabled))


def module_device(network: nn.Module) -> torch.device:
    """The device a network's parameters are on (the CPU for a network without any)."""
    for parameter in network.parameters():
        return parameter.device
    return CPU


def cpu_state_dict(network: nn.Module) -> dict[str, torch.Tensor]:
    """The network's state as CPU tensors, detached copies when they live elsewhere (the same tensors
    on the CPU), keeping torch's per-module metadata so it loads exactly as ``state_dict()`` would."""
    state = network.state_dict()
    cpu: OrderedDict[str, torch.Tensor] = OrderedDict(
        (key, value.detach().to(CPU)) for key, value in state.items()
    )
    metadata = getattr(state, "_metadata", None)
    if metadata is not None:
        cpu._metadata = metadata  # type: ignore[attr-defined]
    return cpu


def clone_state_dict_to_cpu(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A snapshot (copies) of a state dict on the CPU: the best epoch's weights, kept off the GPU."""
    snapshot: OrderedDict[str, torch.Tensor] = OrderedDict(
        (key, value.detach().to(CPU, copy=True)) for key, value in state.items()
    )
    metadata = getattr(state, "_metadata", None)
    if metadata is not None:
        snapshot._metadata = metadata  # type: ignore[attr-defined]
    return snapshot


def describe(device: torch.device) -> str:
    """For a model card's hardware line: the GPU's name, or the CPU and its thread count."""
    if device.type == "cuda":
        return f"CUDA, {torch.cuda.get_device_name(device)}"
    return f"{torch.get_num_threads()} threads, CPU"
