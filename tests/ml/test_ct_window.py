"""CT is read in Hounsfield units through the task's lung window, not the file's own window, by the one
preprocessing path that training and serving share (real head CT slices of CQ500, some JPEG Lossless)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pydicom
import pytest
import torch

from imaging_ai.imaging import decode_image
from imaging_ai.imaging.windowing import linear_window
from imaging_ai.ml.base_training import train_base_version
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.manifest import ManifestItem
from imaging_ai.ml.preprocessing import (
    ModalityWindow,
    PreprocessingSpec,
    model_display,
    normalise,
    resize_display,
    tensor_from_bytes,
    tensor_from_decoded,
)
from imaging_ai.ml.tasks import TASKS
from imaging_ai.ml.training import TrainingParams
from imaging_ai.settings import PROJECT_ROOT
from tests import samples
from tests.conftest import datasets_dir

MAX_PIXELS = 30_000_000
LUNG = ModalityWindow("CT", -600.0, 1500.0)
WINDOWED = PreprocessingSpec(input_size=160, mean=0.5, std=0.25, modality_window=LUNG)
PLAIN = PreprocessingSpec(input_size=160, mean=0.5, std=0.25)
CT_VERSION = PROJECT_ROOT / "model_store/chest-ct-covid/chest-ct-covid.v1"


def ct_head_files() -> list[Path]:
    files = sorted((datasets_dir() / "dicom-samples" / "ct_head").glob("*.dcm"))
    assert len(files) >= 2, "the ct_head DICOM samples are missing"
    return files


def _resaved(path: Path, **changes: object) -> bytes:
    dataset = pydicom.dcmread(path)
    dataset.decompress()  # JPEG Lossless cannot be re-encoded here; the pixel values stay exactly the same
    for keyword, value in changes.items():
        setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize("path", ct_head_files(), ids=lambda path: path.name)
def test_ct_dicom_is_windowed_from_hounsfield_units_with_the_lung_window(path: Path) -> None:
    decoded = decode_image(path.read_bytes(), max_pixels=MAX_PIXELS)
    assert decoded.metadata.modality == "CT"
    # Air is about -1000 HU: the pixels are modality values (Rescale Intercept applied), not stored values.
    assert decoded.pixels.min() < -900
    expected = normalise(resize_display(linear_window(decoded.pixels, -600.0, 1500.0), 160), WINDOWED)
    tensor = tensor_from_decoded(decoded, WINDOWED)
    assert torch.equal(tensor, expected)
    # The file's own window (a brain window, 30/80 or 30/300) gives another image altogether.
    assert decoded.default_window[1] <= 300
    assert (tensor - tensor_from_decoded(decoded, PLAIN)).abs().mean() > 0.5


def test_the_files_window_does_not_change_the_tensor_but_its_hounsfield_scale_does() -> None:
    path = ct_head_files()[0]
    original = _resaved(path)
    rewindowed = _resaved(path, WindowCenter=-500, WindowWidth=1200)
    assert decode_image(rewindowed, max_pixels=MAX_PIXELS).default_window == (-500.0, 1200.0)
    windowed = tensor_from_bytes(original, WINDOWED, max_pixels=MAX_PIXELS)
    assert torch.equal(tensor_from_bytes(rewindowed, WINDOWED, max_pixels=MAX_PIXELS), windowed)
    # Without a modality window (every version before the CT task) the file's window is what counts.
    plain = tensor_from_bytes(original, PLAIN, max_pixels=MAX_PIXELS)
    assert not torch.equal(tensor_from_bytes(rewindowed, PLAIN, max_pixels=MAX_PIXELS), plain)
    # Shifting every value by 300 HU (another Rescale Intercept) does change what the model sees.
    intercept = float(pydicom.dcmread(path, stop_before_pixels=True).RescaleIntercept)
    shifted = _resaved(path, RescaleIntercept=intercept + 300)
    assert (tensor_from_bytes(shifted, WINDOWED, max_pixels=MAX_PIXELS) - windowed).abs().max() > 0.5


def test_training_loads_ct_dicom_through_the_same_window_as_serving() -> None:
    path = ct_head_files()[-1]
    item = ManifestItem(path=path, label="non_covid", site="cq500", split="", patient_id=None)
    loaded = load_image_set([item], ("non_covid", "covid"), 160, window=LUNG)
    served = tensor_from_bytes(path.read_bytes(), WINDOWED, max_pixels=MAX_PIXELS)
    assert torch.equal(normalise(loaded.images[0].numpy(), WINDOWED), served)


def test_png_and_other_modalities_keep_their_display() -> None:
    folder = datasets_dir() / "ct-covid-saopaulo" / "images" / "covid"
    png = next(iter(sorted(folder.glob("*.png"))))
    decoded = decode_image(png.read_bytes(), max_pixels=MAX_PIXELS)
    assert model_display(decoded, LUNG) is decoded.display
    assert torch.equal(tensor_from_decoded(decoded, WINDOWED), tensor_from_decoded(decoded, PLAIN))
    radiograph = decode_image(samples.dicom(samples.CR_MONOCHROME1_JPEG).read_bytes(), max_pixels=MAX_PIXELS)
    assert model_display(radiograph, LUNG) is radiograph.display


def test_old_preprocessing_files_load_and_are_written_back_byte_for_byte() -> None:
    for task in ("chest-xray-pneumonia", "brain-mri-tumor"):
        stored = PROJECT_ROOT / "model_store" / task / f"{task}.v1" / "preprocessing.json"
        text = stored.read_text()
        spec = PreprocessingSpec.from_dict(json.loads(text))
        assert spec.modality_window is None
        assert json.dumps(spec.to_dict(), indent=2) + "\n" == text


def test_the_ct_task_and_its_shipped_version_carry_the_lung_window() -> None:
    task = TASKS["chest-ct-covid"]
    assert (task.modality, task.accepted_modalities, task.modality_window) == (
        "CT",
        frozenset({"CT"}),
        (-600.0, 1500.0),
    )
    spec = PreprocessingSpec.from_dict(json.loads((CT_VERSION / "preprocessing.json").read_text()))
    assert spec.modality_window == LUNG
    assert PreprocessingSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError):
        ModalityWindow("CT", -600.0, 0.0)


def test_training_with_an_operating_point_is_refused_before_training_when_a_test_half_lacks_a_label(
    tmp_path: Path,
) -> None:
    # Seed 0 puts all 3 of São Paulo's covid test groups in the report half (docs/models.md): the gate
    # half could choose no threshold, which used to surface only after the whole training run.
    manifest = datasets_dir() / "ct-covid-saopaulo" / "manifest.csv"
    with pytest.raises(ValueError, match="gate half of the test split has no covid"):
        train_base_version(
            TASKS["chest-ct-covid"],
            manifest,
            store_root=tmp_path,
            version="chest-ct-covid.seed0",
            params=TrainingParams(architecture="mobilenet_v3_small", seed=0),
            served_sensitivity=0.9,
        )
    assert not any(tmp_path.iterdir())
