"""Training and serving turn a file into the identical tensor, because they share one code path."""

from __future__ import annotations

import torch

from imaging_ai.ml.augment import AugmentationSpec, augment
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.manifest import ManifestItem
from imaging_ai.ml.preprocessing import PreprocessingSpec, normalise, tensor_from_bytes
from tests import samples

SPEC = PreprocessingSpec(input_size=160, mean=0.5, std=0.25)


def test_training_and_serving_give_the_identical_tensor() -> None:
    for path in (samples.guangzhou_jpeg(), samples.nih_png(), samples.dicom(samples.CR_MONOCHROME1_JPEG)):
        item = ManifestItem(path=path, label="normal", site="s", split="train", patient_id=None)
        training = load_image_set([item], ("normal", "pneumonia"), SPEC.input_size)
        training_tensor = normalise(training.images[0].numpy(), SPEC)
        serving_tensor = tensor_from_bytes(path.read_bytes(), SPEC, max_pixels=50_000_000)
        assert serving_tensor.shape == (1, 160, 160)
        assert torch.equal(training_tensor, serving_tensor), path.name


def test_monochrome1_is_shown_bright_bones_like_monochrome2() -> None:
    # A real MONOCHROME1 radiograph stores bone dark; decoded, the lungs (air) must be darker than
    # the mediastinum, as on any chest X-ray display.
    tensor = tensor_from_bytes(
        samples.dicom(samples.CR_UNCOMPRESSED).read_bytes(), SPEC, max_pixels=50_000_000
    )[0]
    centre = tensor[60:100, 72:88].mean()
    lungs = torch.cat([tensor[60:100, 25:50], tensor[60:100, 110:135]]).mean()
    assert centre > lungs


def test_augmentation_keeps_shape_and_range_and_is_seeded() -> None:
    batch = torch.rand(4, 1, 32, 32)
    first = augment(batch, AugmentationSpec(), torch.Generator().manual_seed(1))
    again = augment(batch, AugmentationSpec(), torch.Generator().manual_seed(1))
    other = augment(batch, AugmentationSpec(), torch.Generator().manual_seed(2))
    assert first.shape == batch.shape
    assert float(first.min()) >= 0.0 and float(first.max()) <= 1.0
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
