"""The training loop shared by base training and site adaptation: class-balanced, augmented,
early-stopped on validation AUC, keeping the best epoch's weights."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from imaging_ai.ml.augment import AugmentationSpec, augment
from imaging_ai.ml.data import ImageSet
from imaging_ai.ml.device import CPU, autocast_context, clone_state_dict_to_cpu, grad_scaler
from imaging_ai.ml.metrics import point_metrics
from imaging_ai.ml.preprocessing import PreprocessingSpec


@dataclass(frozen=True)
class TrainingParams:
    architecture: str = "resnet18"
    input_size: int = 128
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 4
    seed: int = 0
    augmentation: AugmentationSpec = field(default_factory=AugmentationSpec)
    freeze_batchnorm: bool = False
    """Keep batch-norm statistics fixed (fine-tuning on few cases must not overwrite them)."""


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val_auc: float
    val_accuracy: float
    seconds: float


@dataclass
class TrainingResult:
    network: nn.Module
    history: list[EpochRecord]
    best_epoch: int
    seconds: float


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (mean 1), so each class counts equally in the loss."""
    counts = torch.bincount(labels, minlength=num_classes).float().clamp(min=1)
    weights = counts.sum() / (num_classes * counts)
    return weights / weights.mean()


def predict_logits(
    network: nn.Module,
    images: torch.Tensor,
    preprocessing: PreprocessingSpec,
    batch_size: int = 128,
    *,
    device: torch.device = CPU,
) -> torch.Tensor:
    """Logits for (N, S, S) [0, 1] images, in float32 on the CPU (calibration and metrics read them),
    computed on ``device`` (where the network must be)."""
    network.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].unsqueeze(1).to(device)
            outputs.append(network((batch - preprocessing.mean) / preprocessing.std).float().to(CPU))
    return torch.cat(outputs) if outputs else torch.empty(0)


def train_network(
    network: nn.Module,
    train: ImageSet,
    validation: ImageSet,
    *,
    params: TrainingParams,
    preprocessing: PreprocessingSpec,
    num_classes: int,
    positive_index: int | None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: torch.device = CPU,
    mixed_precision: bool = False,
) -> TrainingResult:
    """Trains on ``device`` (float16 autocast with a loss scaler when ``mixed_precision`` and it is a
    GPU); the images stay on the CPU and are augmented there, with the same seeded generator whatever
    the device, one batch at a time moved over. Returns the best epoch's network on the CPU."""
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(params.seed)
    torch.manual_seed(params.seed)
    network.to(device)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(train.labels, num_classes).to(device))
    scaler = grad_scaler(device, mixed_precision)
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    steps_per_epoch = max(1, math.ceil(len(train) / params.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=params.learning_rate, total_steps=params.epochs * steps_per_epoch, pct_start=0.2
    )
    history: list[EpochRecord] = []
    best_auc, best_epoch, best_state = -math.inf, 0, clone_state_dict_to_cpu(network.state_dict())
    for epoch in range(1, params.epochs + 1):
        epoch_started = time.perf_counter()
        network.train()
        if params.freeze_batchnorm:
            for module in network.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        order = torch.randperm(len(train), generator=generator)
        total_loss = 0.0
        for start in range(0, len(order), params.batch_size):
            index = order[start : start + params.batch_size]
            if len(index) < 2:
                continue  # batch norm needs two samples
            batch = augment(train.images[index].unsqueeze(1), params.augmentation, generator).to(device)
            labels = train.labels[index].to(device)
            with autocast_context(device, mixed_precision):
                logits = network((batch - preprocessing.mean) / preprocessing.std)
                loss = loss_fn(logits.float(), labels)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            scheduler.step()
            total_loss += float(loss.item()) * len(index)
            if should_stop is not None and should_stop():
                raise InterruptedError("training cancelled")
        val_logits = predict_logits(network, validation.images, preprocessing, device=device)
        val_loss = float(nn.functional.cross_entropy(val_logits, validation.labels).item())
        probabilities = torch.softmax(val_logits, dim=1).numpy()
        metrics = point_metrics(probabilities, validation.labels.numpy(), positive_index)
        record = EpochRecord(
            epoch=epoch,
            train_loss=total_loss / max(1, len(train)),
            val_loss=val_loss,
            val_auc=metrics["auc"],
            val_accuracy=metrics["accuracy"],
            seconds=time.perf_counter() - epoch_started,
        )
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        score = record.val_auc if not np.isnan(record.val_auc) else -record.val_loss
        if score > best_auc:
            best_auc, best_epoch, best_state = score, epoch, clone_state_dict_to_cpu(network.state_dict())
        elif epoch - best_epoch >= params.patience:
            break
    network.to(CPU)
    network.load_state_dict(best_state)
    network.eval()
    return TrainingResult(
        network=network, history=history, best_epoch=best_epoch, seconds=time.perf_counter() - started
    )
