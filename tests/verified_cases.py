"""Putting real cases of a new site through the API as a hospital would: predict, then verdict."""

from __future__ import annotations

import csv
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import datasets_dir

NIH = datasets_dir() / "cxr-nih-adult"


def nih_rows(limit: int) -> list[dict[str, str]]:
    """NIH adult cases, alternating labels so any prefix has both."""
    rows = list(csv.DictReader((NIH / "manifest.csv").open()))
    normal = [r for r in rows if r["label"] == "normal"]
    pneumonia = [r for r in rows if r["label"] == "pneumonia"]
    mixed = [row for pair in zip(normal, pneumonia, strict=False) for row in pair]
    return mixed[:limit]


def review(
    client: TestClient, rows: list[dict[str, str]], *, task: str = "chest-xray-pneumonia"
) -> list[str]:
    """Predicts each case and records the dataset label as the clinician's verdict; returns prediction ids."""
    ids = []
    for row in rows:
        path = Path(NIH / row["path"])
        prediction = client.post(
            "/api/v1/predictions",
            files={"file": (path.name, path.read_bytes())},
            data={"task": task, "site": "nih", "patient_id": row["patient_id"]},
        )
        assert prediction.status_code == 201, prediction.text
        body = prediction.json()
        verdict = (
            {"verdict": "agree"}
            if body["predicted_label"] == row["label"]
            else {"verdict": "disagree", "label": row["label"]}
        )
        response = client.post(f"/api/v1/predictions/{body['id']}/feedback", json=verdict)
        assert response.status_code == 201, response.text
        ids.append(body["id"])
    return ids
