"""Which order of review teaches the model fastest, through the running service?

    .venv/bin/python -m bench.worklist_order --budget 200 --step 50 --out docs/bench/worklist_order
    .venv/bin/python -m bench.worklist_order --orders random,learning \
        --site nih_clinical_center_bethesda_adult --out docs/bench/learning_order_service

The NIH adult stream (the same patient split as bench.adaptation) is sent to a fresh service. In
*arrival* order, clinicians review cases as they come. In the other orders the hospital has sent the
whole stream first and clinicians review: what `GET /api/v1/worklist` puts first (*worklist*), what
`GET /api/v1/learning-queue` puts first (*learning*, re-read every `--page` verdicts, after the worker
has re-scored the waiting cases for the version now serving), or a seeded shuffle (*random*). After
every `--step` verdicts a training job runs (the gate decides) and the active version is evaluated on
the site's held-out test patients. The curves, AUC against verdicts, go to the output folder. This is
the whole-network confirmation of bench.learning_order's fast path.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import torch

from bench.adaptation import _process_env, evaluate, split_by_patient, wait_for_job
from bench.common import DATASETS, ROOT, review_case, running_server, signed_in_client, verdict_body
from imaging_ai.ml.data import ImageSet, load_image_set
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import ManifestItem, read_manifest, stable_fraction
from imaging_ai.ml.tasks import TASKS
from imaging_ai.storage.model_store import list_versions, read_version

TASK = "chest-xray-pneumonia"


def active_model(
    client: httpx.Client, data_dir: Path, cache: dict[str, LoadedModel], site: str | None = None
) -> LoadedModel:
    """The version serving `site` (its own, or the task's default), or the default."""
    task = client.get(f"/api/v1/tasks/{TASK}").json()
    version = next((s["version"] for s in task["sites"] if s["site"] == site), task["active_version"])
    if version not in cache:
        roots = [ROOT / "model_store", data_dir / "models"]
        cache[version] = load_model(next(v for r in roots for v in list_versions(r) if v.version == version))
    return cache[version]


def verdict_for(client: httpx.Client, prediction: dict[str, Any], item: ManifestItem) -> None:
    body = verdict_body(prediction, item)
    client.post(f"/api/v1/predictions/{prediction['id']}/feedback", json=body).raise_for_status()


def learning_page(client: httpx.Client, limit: int, timeout: float = 600) -> list[dict[str, Any]]:
    """The top of the learning queue, once the worker has re-scored it for the version now serving."""
    deadline = time.monotonic() + timeout
    while True:
        page = client.get("/api/v1/learning-queue", params={"task": TASK, "limit": limit}).json()
        if not any(entry["stale"] for entry in page["items"]) or time.monotonic() > deadline:
            return list(page["items"])
        time.sleep(2)


def run(
    order: str,
    stream: list[ManifestItem],
    budget: int,
    step: int,
    target: ImageSet,
    source: ImageSet,
    *,
    page_size: int = 25,
    site: str | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with running_server({"IMAGING_AI_AUTO_TRAIN_AFTER": "0"}) as (base_url, process):
        env = _process_env(process)
        data_dir = Path(env["IMAGING_AI_DATA_DIR"])
        worker = subprocess.Popen([str(Path(sys.executable).parent / "imaging-ai"), "worker"], env=env)
        cache: dict[str, LoadedModel] = {}
        try:
            with signed_in_client(base_url, timeout=300) as client:
                waiting: dict[str, ManifestItem] = {}
                if order != "arrival":
                    for item in stream:  # the hospital sends everything; clinicians pick from the worklist
                        prediction = client.post(
                            "/api/v1/predictions",
                            files={"file": (item.path.name, item.path.read_bytes())},
                            data={"task": TASK, "site": item.site, "patient_id": item.patient_id or ""},
                        ).json()
                        waiting[prediction["id"]] = item
                model = active_model(client, data_dir, cache, site)
                rows.append(
                    {
                        "order": order,
                        "verdicts": 0,
                        "version": model.version,
                        **evaluate(model, target, source),
                    }
                )
                reviewed = 0
                while reviewed < budget:
                    if order == "arrival":
                        for item in stream[reviewed : reviewed + step]:
                            review_case(client, TASK, item)
                    elif order == "random":
                        shuffled = sorted(waiting, key=lambda key: stable_fraction(key, 7))
                        for key in shuffled[reviewed : reviewed + step]:
                            prediction = client.get(f"/api/v1/predictions/{key}").json()
                            verdict_for(client, prediction, waiting[key])
                    elif order == "learning":
                        for _ in range(0, step, page_size):
                            for entry in learning_page(client, page_size):
                                verdict_for(client, entry["prediction"], waiting[entry["prediction"]["id"]])
                    else:
                        page = client.get("/api/v1/worklist", params={"task": TASK, "limit": step}).json()
                        for entry in page["items"]:
                            verdict_for(client, entry["prediction"], waiting[entry["prediction"]["id"]])
                    reviewed += step
                    job = wait_for_job(
                        client,
                        client.post("/api/v1/training-jobs", json={"task": TASK, "site": site}).json()["id"],
                    )
                    model = active_model(client, data_dir, cache, site)
                    row = {
                        "order": order,
                        "verdicts": reviewed,
                        "version": model.version,
                        "decision": job.get("decision"),
                        "decision_reason": job.get("decision_reason"),
                        **evaluate(model, target, source),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    return rows


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for order, style in (("arrival", "o-"), ("worklist", "s-"), ("random", "^-"), ("learning", "D-")):
        points = [r for r in rows if r["order"] == order]
        if not points:
            continue
        axis.plot(
            [r["verdicts"] for r in points], [r["target_auc"] for r in points], style, label=f"{order} order"
        )
    axis.set_xlabel("verdicts")
    axis.set_ylabel("NIH test AUC (active version)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--orders", default="arrival,worklist", help="arrival, worklist, random, learning")
    parser.add_argument("--page", type=int, default=25, help="Learning order: verdicts between re-reads.")
    parser.add_argument(
        "--site", help="Train for this site (the gate promotes for it alone) and evaluate what it is served."
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "worklist_order")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    labels = TASKS[TASK].labels
    stream, test = split_by_patient(DATASETS / "cxr-nih-adult" / "manifest.csv", 0.3, args.seed)
    source_items = [
        i for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv") if i.split == "test"
    ]
    shipped = ROOT / "model_store" / TASK / f"{TASK}.v1"
    size = read_version(shipped).preprocessing["input_size"]
    target, source = load_image_set(test, labels, size), load_image_set(source_items, labels, size)
    rows = []
    for order in args.orders.split(","):
        rows += run(
            order, stream, args.budget, args.step, target, source, page_size=args.page, site=args.site
        )
    result = {
        "stream": len(stream),
        "test": len(test),
        "budget": args.budget,
        "step": args.step,
        "rows": rows,
    }
    name = "worklist_order" if args.orders == "arrival,worklist" else "orders"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, args.out / f"{name}.png")


if __name__ == "__main__":
    main()
