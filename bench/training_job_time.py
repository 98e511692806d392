"""How long one adaptation job takes on all of a site's verified cases, through the service.

    .venv/bin/python -m bench.training_job_time [--cases 582] [--out docs/bench/training_job_time.json]

Reviews the NIH adult cases through the running service (prediction + verdict each), queues one
training job and reads the worker's own timing of it. Baseline in the same run: the bare fine-tuning
step on the same training cases in-process (no service, no database, no gate), so the ratio shows
what the job adds (collecting cases, decoding, the gate's evaluations, writing and registering).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.adaptation import wait_for_job
from bench.common import DATASETS, ROOT, report, review_case, running_server, signed_in_client
from imaging_ai.ml.adaptation import AdaptationParams, fine_tune, replay_count
from imaging_ai.ml.data import load_image_set
from imaging_ai.ml.loading import load_model
from imaging_ai.ml.manifest import read_manifest, stable_fraction
from imaging_ai.storage.model_store import list_versions

TASK = "chest-xray-pneumonia"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=582)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    items = read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv")[: args.cases]

    with running_server({"IMAGING_AI_AUTO_TRAIN_AFTER": "0"}) as (base_url, process):
        env = process.bench_env  # type: ignore[attr-defined]
        worker = subprocess.Popen([str(Path(sys.executable).parent / "imaging-ai"), "worker"], env=env)
        try:
            with signed_in_client(base_url, timeout=300) as client:
                for item in items:
                    review_case(client, TASK, item)
                started = time.perf_counter()
                job = wait_for_job(
                    client, client.post("/api/v1/training-jobs", json={"task": TASK}).json()["id"]
                )
                wall = time.perf_counter() - started
        finally:
            worker.terminate()
            worker.wait(timeout=60)

    training_ids = set(job["training_set"]["case_ids"])
    n_training = len(training_ids)
    # Baseline: the same amount of fine-tuning, bare.
    [shipped] = [v for v in list_versions(ROOT / "model_store") if v.task == TASK]
    parent = load_model(shipped)
    size = parent.preprocessing.input_size
    val = [i for i in items if stable_fraction(i.patient_id or str(i.path), 7) < 0.15][: n_training // 6]
    train = [i for i in items if i not in val][: n_training - len(val)]
    source = sorted(
        (
            i
            for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv")
            if i.split == "train"
        ),
        key=lambda i: stable_fraction(str(i.path), 0),
    )[: replay_count(len(train), AdaptationParams())]
    bare_started = time.perf_counter()
    fine_tune(
        parent,
        load_image_set(train, parent.labels, size),
        load_image_set(val, parent.labels, size),
        load_image_set(source, parent.labels, size),
        params=AdaptationParams(),
    )
    bare = time.perf_counter() - bare_started
    result = {
        "verified_cases": len(items),
        "training_cases": n_training,
        "job_seconds_worker": job["progress"].get("seconds"),
        "job_seconds_wall": round(wall, 1),
        "bare_fine_tune_seconds": round(bare, 1),
        "job_over_bare": round(wall / bare, 2),
        "decision": job["decision"],
        "decision_reason": job["decision_reason"],
    }
    report(result, args.out)


if __name__ == "__main__":
    main()
