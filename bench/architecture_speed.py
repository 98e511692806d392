"""Training-step and batch-1 inference time of candidate architectures on this CPU.

.venv/bin/python bench/architecture_speed.py
"""

from __future__ import annotations

import json
import time

import torch

from imaging_ai.ml.architectures import build_network


def measure(architecture: str, size: int, batch: int = 64, steps: int = 3) -> dict[str, float | str | int]:
    network = build_network(architecture, 2)
    optimiser = torch.optim.AdamW(network.parameters())
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 2, (batch,))
    network.train()
    for _ in range(1):
        torch.nn.functional.cross_entropy(network(x), y).backward()
    started = time.perf_counter()
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(network(x), y).backward()
        optimiser.step()
    train_step = (time.perf_counter() - started) / steps
    network.eval()
    one = torch.randn(1, 1, size, size)
    with torch.inference_mode():
        network(one)
        started = time.perf_counter()
        for _ in range(20):
            network(one)
    infer = (time.perf_counter() - started) / 20
    return {
        "architecture": architecture,
        "input": size,
        "train_step_s_batch64": round(train_step, 3),
        "epoch_s_5200_images": round(train_step * 5200 / batch, 1),
        "inference_ms_batch1": round(infer * 1000, 1),
        "parameters_m": round(sum(p.numel() for p in network.parameters()) / 1e6, 2),
    }


if __name__ == "__main__":
    torch.set_num_threads(2)
    for arch, size in [("resnet18", 128), ("resnet18", 160), ("resnet18", 192), ("mobilenet_v3_small", 160)]:
        print(json.dumps(measure(arch, size)), flush=True)
