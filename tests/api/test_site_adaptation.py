"""A training job for one site, end to end through the worker: a candidate trained on label-permuted
verdicts is refused, and the job never reads the report half of the source test split (those files are
absent from the data directory it runs on)."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imaging_ai.api.app import create_app
from imaging_ai.ml.adaptation_data import source_test_halves
from imaging_ai.ml.base_training import split_manifest
from imaging_ai.ml.manifest import read_manifest
from imaging_ai.ml.tasks import TASKS
from imaging_ai.services.training.worker import Worker
from imaging_ai.settings import Settings
from tests.api.conftest import app_state, sign_in_admin
from tests.verified_cases import nih_rows, review

CXR = "chest-xray-pneumonia"
SOURCE = "cxr-guangzhou-pediatric"


def datasets_without_the_report_half(real: Path, target: Path) -> tuple[int, int]:
    """A datasets folder whose source set lacks every image of the report half. Returns the halves' sizes."""
    manifest = real / SOURCE / "manifest.csv"
    items = read_manifest(manifest, labels=TASKS[CXR].labels)
    split = split_manifest(items, validation_fraction=0.1, test_fraction=0.15, seed=0)
    gate, report = source_test_halves(split.test)
    absent = {item.path for item in report}
    (target / SOURCE).mkdir(parents=True)
    (target / SOURCE / "manifest.csv").symlink_to(manifest)
    for item in items:
        if item.path in absent:
            continue
        link = target / SOURCE / item.path.relative_to(real / SOURCE)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(item.path)
    return len(gate), len(report)


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, int]]:
    gate_size, report_size = datasets_without_the_report_half(settings.datasets_dir, tmp_path / "datasets")
    assert gate_size > 250 and report_size > 250
    isolated = settings.model_copy(update={"auto_train_after": 0, "datasets_dir": tmp_path / "datasets"})
    with TestClient(create_app(isolated), raise_server_exceptions=False) as client:
        sign_in_admin(client)
        yield client, gate_size


@pytest.mark.slow
def test_a_site_candidate_trained_on_permuted_verdicts_is_refused_without_the_report_half(
    client: tuple[TestClient, int],
) -> None:
    client_, gate_size = client
    rows = nih_rows(130)
    labels = [row["label"] for row in rows]
    random.Random(5).shuffle(labels)
    review(client_, [{**row, "label": label} for row, label in zip(rows, labels, strict=True)])

    created = client_.post("/api/v1/training-jobs", json={"task": CXR, "site": "nih"})
    assert created.status_code == 201, created.text
    assert created.json()["site"] == "nih"
    state = app_state(client_)
    Worker(state.session_factory, state.settings, worker_id="w1").run_once()
    job = client_.get(f"/api/v1/training-jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded", job
    assert job["decision"] == "held_back", job["decision_reason"]

    evaluation = job["evaluation"]
    assert evaluation["site"] == "nih" and evaluation["looks"] == 1
    assert evaluation["target"]["cases"] == "sequestered: site nih" and evaluation["target"]["n"] >= 20
    [source] = [c for c in evaluation["others"] if c["cases"] == "source gate half"]
    assert source["n"] == gate_size
    assert set(job["training_set"]["counts"]) == {"nih"}
    task = client_.get(f"/api/v1/tasks/{CXR}").json()
    assert task["default_version"] == f"{CXR}.v1"
    assert [s["routing"] for s in task["sites"] if s["site"] == "nih"] == ["default"]
    with (state.settings.datasets_dir / SOURCE / "manifest.csv").open() as handle:
        assert sum(1 for _ in csv.DictReader(handle)) > gate_size  # the manifest names them; no file is there
