"""Site adaptation: fine-tune the active version on a site's verified cases, with replay of the
task's original training data so the source site is not forgotten."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch

from imaging_ai.ml.calibration import fit_temperature
from imaging_ai.ml.data import ImageSet
from imaging_ai.ml.device import CPU
from imaging_ai.ml.loading import LoadedModel
from imaging_ai.ml.training import EpochRecord, TrainingParams, TrainingResult, predict_logits, train_network


@dataclass(frozen=True)
class AdaptationParams:
    epochs: int = 6
    learning_rate: float = 5e-4
    batch_size: int = 32
    patience: int = 3
    replay_ratio: float = 3.0
    """Replayed source images per verified site case (measured: 3 forgets less and learns more than 1)."""
    max_replay: int = 600
    """Cap on replayed images, which keeps a job on 500 cases within about two minutes on 2 cores."""
    freeze_batchnorm: bool = True
    """Keep the parent's batch-norm statistics (see docs/adaptation.md for the measurement)."""
    seed: int = 0


@dataclass
class AdaptationResult:
    training: TrainingResult
    temperature: float
    replayed: int


def replay_count(site_cases: int, params: AdaptationParams) -> int:
    return min(round(site_cases * params.replay_ratio), params.max_replay)


def concatenate(*sets: ImageSet) -> ImageSet:
    present = [s for s in sets if len(s)]
    return ImageSet(
        images=torch.cat([s.images for s in present]),
        labels=torch.cat([s.labels for s in present]),
        items=[item for s in present for item in s.items],
    )


def sample(images: ImageSet, count: int, seed: int) -> ImageSet:
    if count >= len(images):
        return images
    index = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:count]
    return ImageSet(
        images=images.images[index],
        labels=images.labels[index],
        items=[images.items[i] for i in index.tolist()],
    )


def fine_tune(
    parent: LoadedModel,
    site_train: ImageSet,
    validation: ImageSet,
    replay_pool: ImageSet | None,
    *,
    params: AdaptationParams,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: torch.device = CPU,
    mixed_precision: bool = False,
) -> AdaptationResult:
    """Fine-tunes a copy of the parent on ``device`` (see `train_network`); the parent is untouched and
    the result's network is on the CPU."""
    replay = (
        sample(replay_pool, replay_count(len(site_train), params), params.seed)
        if replay_pool is not None and params.replay_ratio > 0
        else None
    )
    train = concatenate(site_train, replay) if replay is not None else site_train
    network = copy.deepcopy(parent.network)
    training = train_network(
        network,
        train,
        validation,
        params=TrainingParams(
            architecture=parent.architecture,
            input_size=parent.preprocessing.input_size,
            epochs=params.epochs,
            batch_size=params.batch_size,
            learning_rate=params.learning_rate,
            patience=params.patience,
            seed=params.seed,
            freeze_batchnorm=params.freeze_batchnorm,
        ),
        preprocessing=parent.preprocessing,
        num_classes=len(parent.labels),
        positive_index=parent.task.label_index(parent.task.positive_label)
        if parent.task.positive_label
        else None,
        on_epoch=on_epoch,
        should_stop=should_stop,
        device=device,
        mixed_precision=mixed_precision,
    )
    # Temperature scaling in float32 on the CPU, where the trained network is returned.
    logits = predict_logits(training.network, validation.images, parent.preprocessing)
    temperature = fit_temperature(logits, validation.labels) if len(validation) >= 10 else parent.temperature
    return AdaptationResult(training=training, temperature=temperature, replayed=len(replay) if replay else 0)
