"""The device path (issue #17): the `device` setting resolved once, training and inference on it, weights
always saved from the CPU. No GPU here: the CUDA path itself runs only in the test marked for a GPU."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from imaging_ai.cli import build_parser
from imaging_ai.ml.adaptation import AdaptationParams, fine_tune
from imaging_ai.ml.architectures import build_network
from imaging_ai.ml.augment import AugmentationSpec, augment
from imaging_ai.ml.data import ImageSet
from imaging_ai.ml.device import (
    CPU,
    DeviceUnavailableError,
    autocast_context,
    cpu_state_dict,
    grad_scaler,
    resolve_device,
)
from imaging_ai.ml.heatmap import grad_cam
from imaging_ai.ml.loading import LoadedModel, model_from_weights, serialise_weights
from imaging_ai.ml.manifest import ManifestItem
from imaging_ai.ml.metrics import point_metrics
from imaging_ai.ml.preprocessing import PreprocessingSpec
from imaging_ai.ml.tasks import TASKS
from imaging_ai.ml.training import TrainingParams, class_weights, predict_logits, train_network

TASK = TASKS["chest-xray-pneumonia"]
SPEC = PreprocessingSpec(32, 0.5, 0.25)
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def image_set(n: int, seed: int) -> ImageSet:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 32, 32, generator=generator) * 0.5 + labels.view(-1, 1, 1) * 0.4
    items = [ManifestItem(Path(f"{seed}-{i}"), TASK.labels[int(labels[i])], "s", "", None) for i in range(n)]
    return ImageSet(images=images, labels=labels, items=items)


def network(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_network("mobilenet_v3_small", 2)


def loaded(net: nn.Module, device: torch.device = CPU) -> LoadedModel:
    return model_from_weights(
        serialise_weights(net),
        version="v",
        task=TASK,
        architecture="mobilenet_v3_small",
        preprocessing=SPEC,
        temperature=1.3,
        device=device,
    )


# --- resolve_device -------------------------------------------------------------------------------------


def test_cpu_is_the_cpu_and_auto_follows_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu") == CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_on_this_machine_auto_is_the_cpu_and_cuda_fails_clearly() -> None:
    assert resolve_device("auto") == CPU
    with pytest.raises(DeviceUnavailableError, match=r"IMAGING_AI_DEVICE=cuda .*no CUDA device"):
        resolve_device("cuda")


def test_cuda_without_a_gpu_is_an_error_not_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailableError, match="use `auto` or `cpu`"):
        resolve_device("cuda")
    with pytest.raises(DeviceUnavailableError):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_train_base_takes_a_device() -> None:
    args = build_parser().parse_args(
        ["train-base", "--task", TASK.name, "--manifest", "m.csv", "--version", "x.v9", "--device", "cpu"]
    )
    assert args.device == "cpu"
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["train-base", "--task", TASK.name, "--manifest", "m.csv", "--version", "x", "--device", "tpu"]
        )


# --- autocast and the scaler ------------------------------------------------------------------------------


def test_autocast_is_a_no_op_on_the_cpu() -> None:
    a, b = torch.rand(4, 4), torch.rand(4, 4)
    for enabled in (True, False):
        with autocast_context(CPU, enabled):
            assert not torch.is_autocast_enabled("cpu")
            assert (a @ b).dtype == torch.float32
        assert not grad_scaler(CPU, enabled).is_enabled()
    # Disabled on CUDA too (the object can be made without a GPU): no autocast, no scaler.
    with autocast_context(torch.device("cuda"), False):
        assert (a @ b).dtype == torch.float32
    assert not grad_scaler(torch.device("cuda"), False).is_enabled()


# --- training on the device path gives what training gave before ------------------------------------------


def _reference_training(
    net: nn.Module, train: ImageSet, validation: ImageSet, params: TrainingParams
) -> tuple[dict[str, torch.Tensor], int]:
    """The training loop as it was before the device path (CPU, float32), kept here as the reference."""
    generator = torch.Generator().manual_seed(params.seed)
    torch.manual_seed(params.seed)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(train.labels, 2))
    optimiser = torch.optim.AdamW(net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    steps = max(1, math.ceil(len(train) / params.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=params.learning_rate, total_steps=params.epochs * steps, pct_start=0.2
    )
    best, best_epoch, best_state = -math.inf, 0, {k: v.clone() for k, v in net.state_dict().items()}
    for epoch in range(1, params.epochs + 1):
        net.train()
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(order), params.batch_size):
            index = order[start : start + params.batch_size]
            if len(index) < 2:
                continue
            batch = augment(train.images[index].unsqueeze(1), params.augmentation, generator)
            loss = loss_fn(net((batch - SPEC.mean) / SPEC.std), train.labels[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
        net.eval()
        with torch.inference_mode():
            logits = net((validation.images.unsqueeze(1) - SPEC.mean) / SPEC.std)
        auc = point_metrics(torch.softmax(logits, 1).numpy(), validation.labels.numpy(), 1)["auc"]
        if auc > best:
            best, best_epoch, best_state = auc, epoch, {k: v.clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= params.patience:
            break
    return best_state, best_epoch


def test_training_on_the_cpu_device_path_matches_the_loop_before_it() -> None:
    params = TrainingParams(
        architecture="mobilenet_v3_small",
        input_size=32,
        epochs=3,
        batch_size=8,
        learning_rate=1e-3,
        augmentation=AugmentationSpec(),
    )
    train, validation = image_set(40, 1), image_set(16, 2)
    expected, expected_epoch = _reference_training(network(), train, validation, params)
    # mixed_precision=True must change nothing on the CPU (autocast and the scaler are CUDA only).
    result = train_network(
        network(),
        train,
        validation,
        params=params,
        preprocessing=SPEC,
        num_classes=2,
        positive_index=1,
        device=resolve_device("cpu"),
        mixed_precision=True,
    )
    assert result.best_epoch == expected_epoch
    for key, value in result.network.state_dict().items():
        assert value.device == CPU
        torch.testing.assert_close(value, expected[key], rtol=1e-5, atol=1e-6, msg=key)


def test_fine_tuning_on_the_cpu_device_path_gives_the_same_candidate() -> None:
    parent = loaded(network())
    params = AdaptationParams(epochs=2, batch_size=8, replay_ratio=1, max_replay=20)
    site, validation, replay = image_set(20, 1), image_set(12, 2), image_set(40, 3)
    before = fine_tune(parent, site, validation, replay, params=params)
    on_device = fine_tune(
        parent, site, validation, replay, params=params, device=resolve_device("auto"), mixed_precision=True
    )
    assert on_device.temperature == pytest.approx(before.temperature, rel=1e-5)
    images = image_set(8, 4).images
    torch.testing.assert_close(
        predict_logits(on_device.training.network, images, SPEC),
        predict_logits(before.training.network, images, SPEC),
        rtol=1e-4,
        atol=1e-5,
    )


# --- weights leave as CPU tensors; inference through the device gives the same answers ----------------------


def test_saved_weights_are_cpu_tensors_and_load_without_map_location() -> None:
    net = network()
    state = torch.load(io.BytesIO(serialise_weights(net)), weights_only=True)
    assert state and all(value.device == CPU for value in state.values())
    assert state.keys() == net.state_dict().keys()
    for key, value in net.state_dict().items():
        assert torch.equal(state[key], value)
    # Torch's per-module metadata (batch-norm versions) is kept, so loading is exactly as before.
    assert getattr(cpu_state_dict(net), "_metadata", None) == getattr(net.state_dict(), "_metadata", None)


def test_inference_and_grad_cam_on_the_device_path_match_the_plain_network() -> None:
    net = network().eval()
    model = loaded(net, resolve_device("cpu"))
    assert model.device == CPU
    batch = model.normalise_images(image_set(6, 5).images)
    with torch.inference_mode():
        expected = torch.softmax(net(batch) / 1.3, dim=1)
    torch.testing.assert_close(model.predict(batch), expected)
    scored = model.predict_scored(batch)
    torch.testing.assert_close(scored[:, :2], expected)
    cam = grad_cam(model, batch[0], 1)
    assert cam.shape == (32, 32) and cam.dtype.name == "float32"


@needs_gpu
def test_cuda_training_saves_cpu_weights_that_load_anywhere() -> None:
    """Runs only on a GPU machine: mixed-precision training on CUDA, weights back on the CPU, and the
    CPU and the GPU answers of the saved version agreeing (float32 inference on both)."""
    cuda = resolve_device("cuda")
    params = TrainingParams(architecture="mobilenet_v3_small", input_size=32, epochs=2, batch_size=8)
    result = train_network(
        network(),
        image_set(40, 1),
        image_set(16, 2),
        params=params,
        preprocessing=SPEC,
        num_classes=2,
        positive_index=1,
        device=cuda,
        mixed_precision=True,
    )
    state = torch.load(io.BytesIO(serialise_weights(result.network)), weights_only=True)
    assert all(value.device == CPU for value in state.values())
    batch = loaded(result.network).normalise_images(image_set(6, 5).images)
    on_cpu, on_gpu = loaded(result.network), loaded(result.network, cuda)
    torch.testing.assert_close(on_gpu.predict(batch), on_cpu.predict(batch), rtol=1e-3, atol=1e-4)
    assert on_gpu.predict_scored(batch).device == CPU
    assert grad_cam(on_gpu, batch[0], 1).shape == (32, 32)
