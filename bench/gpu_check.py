"""The GPU check (issue #17): base training, fine-tuning and inference on the selected device, each
also on the CPU in the same run, so the figures are ratios.

    scripts/gpu_check.sh [--device auto|cpu|cuda] [--out docs/bench/gpu_check.json]

- base training: one timed epoch (after one warm-up epoch) of the shipped chest version's architecture
  at its input size on a few hundred Guangzhou training images (the chest set it was trained on);
- fine-tuning: a small site adaptation of the shipped chest version on NIH adult PNGs, with replay of
  Guangzhou training images, as the worker runs it (`fine_tune`, its default parameters but fewer epochs);
- inference: batched forward passes of the shipped chest version through `predict_scored` (what the
  runtime's micro-batcher calls: probabilities, feature distance and features), images per second.

Images are decoded once, before anything is timed. On CUDA, training uses mixed precision as
IMAGING_AI_MIXED_PRECISION says (default on). Without a CUDA device the check runs on the CPU only,
says "no CUDA device" and has no ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from bench.common import DATASETS, ROOT, report
from imaging_ai.ml.adaptation import AdaptationParams, fine_tune, replay_count
from imaging_ai.ml.architectures import build_network
from imaging_ai.ml.data import ImageSet, load_image_set
from imaging_ai.ml.device import CPU, describe, resolve_device
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import read_manifest, stable_fraction
from imaging_ai.ml.preprocessing import PreprocessingSpec
from imaging_ai.ml.training import TrainingParams, train_network
from imaging_ai.storage.model_store import StoredVersion, list_versions

TASK = "chest-xray-pneumonia"
NO_CUDA = "no CUDA device: CPU figures only, no ratios"


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _balanced(items: list[Any], count: int, labels: tuple[str, ...]) -> list[Any]:
    """``count`` items in a stable order, about as many of each label."""
    ordered = sorted(items, key=lambda item: stable_fraction(str(item.path), 0))
    per_label = max(1, count // len(labels))
    chosen = [item for label in labels for item in [i for i in ordered if i.label == label][:per_label]]
    return chosen[:count]


def base_training_epoch(
    stored: StoredVersion, train: ImageSet, validation: ImageSet, device: torch.device, amp: bool, batch: int
) -> dict[str, Any]:
    size = int(stored.card["input"]["size"])
    params = TrainingParams(
        architecture=stored.card["architecture"], input_size=size, epochs=2, batch_size=batch, patience=9
    )
    torch.manual_seed(0)
    network = build_network(params.architecture, 2)
    result = train_network(
        network,
        train,
        validation,
        params=params,
        preprocessing=PreprocessingSpec(size, 0.5, 0.25),
        num_classes=2,
        positive_index=1,
        device=device,
        mixed_precision=amp,
    )
    timed = result.history[-1]  # the first epoch warms up (cuDNN autotuning, allocator, caches)
    return {
        "epoch_seconds": round(timed.seconds, 2),
        "images_per_s": round(len(train) / timed.seconds, 1),
        "warm_up_epoch_seconds": round(result.history[0].seconds, 2),
    }


def fine_tuning(
    stored: StoredVersion,
    site: ImageSet,
    validation: ImageSet,
    replay: ImageSet,
    device: torch.device,
    amp: bool,
    epochs: int,
) -> dict[str, Any]:
    parent = load_model(stored, with_density=False, device=device)
    params = AdaptationParams(epochs=epochs, patience=epochs)
    _synchronise(device)
    started = time.perf_counter()
    result = fine_tune(parent, site, validation, replay, params=params, device=device, mixed_precision=amp)
    _synchronise(device)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "epochs": len(result.training.history),
        "training_images": len(site) + result.replayed,
    }


def inference(model: LoadedModel, images: torch.Tensor, batch: int, rounds: int) -> dict[str, Any]:
    inputs = [model.normalise_images(images[i : i + batch]) for i in range(0, len(images), batch)]
    model.predict_scored(inputs[0])  # warm-up
    _synchronise(model.device)
    started = time.perf_counter()
    for _ in range(rounds):
        for chunk in inputs:
            model.predict_scored(chunk)  # returns CPU tensors: the copy back is timed too
    _synchronise(model.device)
    seconds = time.perf_counter() - started
    count = rounds * len(images)
    return {
        "images": count,
        "batch": batch,
        "seconds": round(seconds, 2),
        "images_per_s": round(count / seconds, 1),
    }


def _ratio(device_value: float, cpu_value: float) -> float:
    return round(device_value / cpu_value, 2) if cpu_value else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default=os.environ.get("IMAGING_AI_DEVICE", "auto"))
    parser.add_argument("--train-images", type=int, default=384)
    parser.add_argument("--site-cases", type=int, default=96)
    parser.add_argument("--fine-tune-epochs", type=int, default=2)
    parser.add_argument("--inference-images", type=int, default=256)
    parser.add_argument("--inference-rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice).")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    amp = os.environ.get("IMAGING_AI_MIXED_PRECISION", "true").strip().lower() not in ("0", "false", "no")
    device = resolve_device(args.device)
    devices = [CPU] if device == CPU else [device, CPU]

    [stored] = [v for v in list_versions(ROOT / "model_store") if v.task == TASK]
    labels: tuple[str, ...] = tuple(stored.card["labels"])
    size = int(stored.card["input"]["size"])
    guangzhou = [
        i for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv") if i.split == "train"
    ]
    pool = _balanced(guangzhou, args.train_images + 64, labels)
    held_out = set(range(0, len(pool), max(1, len(pool) // 64)))
    train = load_image_set([i for n, i in enumerate(pool) if n not in held_out], labels, size)
    validation = load_image_set([pool[n] for n in sorted(held_out)], labels, size)
    nih = _balanced(read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv"), args.site_cases + 32, labels)
    site = load_image_set(nih[: args.site_cases], labels, size)
    site_validation = load_image_set(nih[args.site_cases :], labels, size)
    replayed = replay_count(args.site_cases, AdaptationParams())
    replay = load_image_set(_balanced(guangzhou, replayed, labels), labels, size)
    served = torch.cat([site.images, site_validation.images])
    served = served.repeat(max(1, -(-args.inference_images // len(served))), 1, 1)[: args.inference_images]

    figures: dict[str, dict[str, Any]] = {}
    for where in devices:
        key = "cpu" if where == CPU else "device"
        use_amp = amp and where.type == "cuda"
        figures[key] = {
            "device": describe(where),
            "mixed_precision": use_amp,
            "base_training": base_training_epoch(stored, train, validation, where, use_amp, args.batch),
            "fine_tuning": fine_tuning(
                stored, site, site_validation, replay, where, use_amp, args.fine_tune_epochs
            ),
            "inference": inference(
                load_model(stored, device=where), served, args.batch, args.inference_rounds
            ),
        }
    result: dict[str, Any] = {
        "command": f"scripts/gpu_check.sh --device {args.device}",
        "selected": str(device),
        "cuda": (
            f"{torch.cuda.device_count()} CUDA device(s): {torch.cuda.get_device_name(0)}"
            if torch.cuda.is_available()
            else NO_CUDA
        ),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads",
        "version": stored.version,
        "data": {
            "base_training": f"cxr-guangzhou-pediatric train, {len(train)} images at {size}px, "
            f"batch {args.batch}, 1 timed epoch after 1 warm-up",
            "fine_tuning": f"cxr-nih-adult, {len(site)} site cases + replay (cxr-guangzhou-pediatric), "
            f"{len(site_validation)} validation, {args.fine_tune_epochs} epochs",
            "inference": f"{len(served)} NIH images x {args.inference_rounds} rounds, batch {args.batch}",
        },
        **figures,
    }
    if "device" in figures:
        cpu, gpu = figures["cpu"], figures["device"]
        result["ratios_device_over_cpu"] = {
            "base_training_images_per_s": _ratio(
                gpu["base_training"]["images_per_s"], cpu["base_training"]["images_per_s"]
            ),
            "fine_tuning_speed": _ratio(cpu["fine_tuning"]["seconds"], gpu["fine_tuning"]["seconds"]),
            "inference_images_per_s": _ratio(
                gpu["inference"]["images_per_s"], cpu["inference"]["images_per_s"]
            ),
            "meaning": "how many times faster the selected device is than the CPU (above 1: faster)",
        }
    report(result, args.out)


if __name__ == "__main__":
    main()
