"""The train-base and evaluate commands, end to end, as a developer runs them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from imaging_ai.settings import PROJECT_ROOT
from imaging_ai.storage.model_store import list_versions
from tests.conftest import datasets_dir

CLI = str(Path(sys.executable).parent / "imaging-ai")
GUANGZHOU = datasets_dir() / "cxr-guangzhou-pediatric" / "manifest.csv"


def _small_manifest(target: Path, per_split: dict[str, int]) -> Path:
    """A few rows of each label and split of the real manifest, with absolute paths."""
    rows = list(csv.DictReader(GUANGZHOU.open()))
    chosen = []
    for split, count in per_split.items():
        for label in ("normal", "pneumonia"):
            chosen += [r for r in rows if r["split"] == split and r["label"] == label][:count]
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in chosen:
            writer.writerow({**row, "path": str(GUANGZHOU.parent / row["path"])})
    return target


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMAGING_AI_DATA_DIR": str(tmp_path / "data"), "IMAGING_AI_LOG_LEVEL": "WARNING"}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=600, check=False)


def test_train_base_writes_a_complete_version(tmp_path: Path) -> None:
    manifest = _small_manifest(tmp_path / "manifest.csv", {"train": 40, "test": 15})
    store = tmp_path / "store"
    result = run_cli(
        "train-base",
        "--task", "chest-xray-pneumonia",
        "--manifest", str(manifest),
        "--version", "chest-xray-pneumonia.t1",
        "--out", str(store),
        "--external", f"again={manifest}",
        "--epochs", "2",
        "--input-size", "48",
        "--batch-size", "16",
        "--augmentation", "strong",
        "--served-sensitivity", "0.9",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    [stored] = list_versions(store)
    card = stored.card
    assert stored.version == "chest-xray-pneumonia.t1"
    assert card["task"] == "chest-xray-pneumonia" and card["labels"] == ["normal", "pneumonia"]
    assert card["architecture"] == "mobilenet_v3_small"
    assert card["input"]["size"] == 48
    assert card["training_data"]["counts_per_label"]["test"] == {"normal": 15, "pneumonia": 15}
    assert "patient" in card["training_data"]["split_rule"]
    assert len(card["training"]["history"]) >= 1
    assert card["calibration"]["temperature"] > 0
    assert {"validation", "source-test", "again"} <= set(card["metrics"])
    for metric in ("auc", "accuracy", "sensitivity", "specificity", "n", "ci95", "ece"):
        assert metric in card["metrics"]["source-test"]
    assert card["metrics"]["source-test"]["n"] == 30
    assert card["training"]["params"]["augmentation"]["max_noise_std"] > 0
    # The operating point comes from the gate half; the report half shows it served.
    point = card["operating_point"]
    gate, report = card["metrics"]["source-test-gate-half"], card["metrics"]["source-test-report-half"]
    assert gate["n"] + report["n"] == 30 and point["positives"] == gate["counts_per_label"]["pneumonia"]
    assert point["target_sensitivity"] == 0.9 and "gate half" in point["chosen_on"]
    assert point["sensitivity"] == 1.0  # too few positives to bound 0.9 below: every one is called
    assert report["served"]["threshold"] == point["threshold"]
    assert 0.0 <= report["served"]["ci95"]["specificity"][0] <= report["served"]["specificity"]
    stored.read_verified_weights()

    evaluated = run_cli(
        "evaluate", "--task", "chest-xray-pneumonia", "--manifest", str(manifest),
        "--version", "chest-xray-pneumonia.t1", "--split", "test", "--json",
        tmp_path=tmp_path,
    )  # fmt: skip
    # Without being told about the temporary store, evaluate cannot find the version...
    assert evaluated.returncode == 2 and "no version" in evaluated.stdout
    evaluated = run_cli(
        "evaluate", "--task", "chest-xray-pneumonia", "--manifest", str(manifest), "--store", str(store),
        "--version", "chest-xray-pneumonia.t1", "--split", "test", "--json",
        tmp_path=tmp_path,
    )  # fmt: skip
    # ...and with it, reproduces the card's source-test numbers exactly.
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    measured = json.loads(evaluated.stdout)
    for metric in ("auc", "accuracy", "sensitivity", "specificity", "n", "counts_per_label"):
        assert measured[metric] == card["metrics"]["source-test"][metric], metric


def test_evaluate_reproduces_the_shipped_card() -> None:
    [stored] = [v for v in list_versions(PROJECT_ROOT / "model_store") if v.task == "chest-xray-pneumonia"]
    result = subprocess.run(
        [
            CLI, "evaluate", "--task", "chest-xray-pneumonia", "--manifest", str(GUANGZHOU),
            "--version", stored.version, "--split", "test", "--json",
        ],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "IMAGING_AI_LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout)
    card = stored.card["metrics"]["source-test"]
    for metric in ("auc", "accuracy", "sensitivity", "specificity", "n"):
        assert measured[metric] == card[metric], metric
    assert measured["counts_per_label"] == card["counts_per_label"]


def test_evaluate_splits_the_source_test_split_into_disjoint_halves_by_patient() -> None:
    [stored] = [v for v in list_versions(PROJECT_ROOT / "model_store") if v.task == "chest-xray-pneumonia"]
    halves = {}
    for half in ("gate", "report"):
        result = subprocess.run(
            [
                CLI, "evaluate", "--task", "chest-xray-pneumonia", "--manifest", str(GUANGZHOU),
                "--version", stored.version, "--split", "test", "--half", half, "--json",
            ],
            capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "IMAGING_AI_LOG_LEVEL": "WARNING"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        halves[half] = json.loads(result.stdout)
        assert halves[half]["half"] == half
    card = stored.card["metrics"]["source-test"]
    assert halves["gate"]["n"] + halves["report"]["n"] == card["n"]
    assert 0.4 < halves["report"]["n"] / card["n"] < 0.6
    for label, count in card["counts_per_label"].items():
        gate, report = halves["gate"]["counts_per_label"][label], halves["report"]["counts_per_label"][label]
        assert gate + report == count
