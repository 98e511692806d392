"""The adaptation benchmark: a new site replayed through the running service over HTTP.

    .venv/bin/python -m bench.adaptation --task chest-xray-pneumonia \\
        --stream var/bench/nih-stream.csv --test var/bench/nih-test.csv \\
        --source-test ../shared/datasets/cxr-guangzhou-pediatric/manifest.csv \\
        --step 50 --out docs/bench/adaptation

Without --stream/--test, the NIH adult set is split by patient (seeded) into a stream (~70%) and a
test part. The benchmark uploads the stream's images in order as a hospital would, posts each case's
label as the clinician's verdict (agree or disagree with the AI), starts a training job after every
`--step` verdicts (the administrator's part) and waits for the worker to train, judge and promote or
hold back. After every step it evaluates the active version on the site's test part and on the source
test set. References measured in the same run: the frozen shipped model, and an oracle fine-tuned on
the whole stream at once with the same method.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import torch

from bench.common import DATASETS, ROOT, review_case, running_server, signed_in_client
from imaging_ai.ml.adaptation import AdaptationParams, fine_tune, replay_count
from imaging_ai.ml.data import ImageSet, load_image_set
from imaging_ai.ml.evaluation import evaluate_image_set
from imaging_ai.ml.loading import LoadedModel, load_model
from imaging_ai.ml.manifest import ManifestItem, read_manifest, stable_fraction
from imaging_ai.ml.tasks import TASKS
from imaging_ai.storage.model_store import list_versions, read_version


def split_by_patient(
    manifest: Path, test_fraction: float, seed: int
) -> tuple[list[ManifestItem], list[ManifestItem]]:
    items = read_manifest(manifest)
    key = lambda item: item.patient_id or str(item.path)  # noqa: E731
    test = [item for item in items if stable_fraction(key(item), seed) < test_fraction]
    stream = [item for item in items if stable_fraction(key(item), seed) >= test_fraction]
    # Arrival order: seeded shuffle, as cases come in over time.
    stream.sort(key=lambda item: stable_fraction(str(item.path), seed + 1))
    return stream, test


def evaluate(model: LoadedModel, target: ImageSet, source: ImageSet) -> dict[str, Any]:
    t, s = evaluate_image_set(model, target), evaluate_image_set(model, source)
    return {
        "target_auc": t["auc"],
        "target_accuracy": t["accuracy"],
        "target_sensitivity": t.get("sensitivity"),
        "target_specificity": t.get("specificity"),
        "target_auc_ci95": t["ci95"]["auc"],
        "source_auc": s["auc"],
    }


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/training-jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job  # type: ignore[no-any-return]
        time.sleep(2)
    raise TimeoutError(job_id)


def replay(
    client: httpx.Client,
    task: str,
    stream: list[ManifestItem],
    step: int,
    data_dir: Path,
    target: ImageSet,
    source: ImageSet,
) -> list[dict[str, Any]]:
    rows = []
    models: dict[str, LoadedModel] = {}

    def active_model() -> LoadedModel:
        version = client.get(f"/api/v1/tasks/{task}").json()["active_version"]
        if version not in models:
            roots = [ROOT / "model_store", data_dir / "models"]
            stored = next(v for root in roots for v in list_versions(root) if v.version == version)
            models[version] = load_model(stored)
        return models[version]

    model = active_model()
    rows.append({"verdicts": 0, "version": model.version, **evaluate(model, target, source), "job": None})
    for start in range(0, len(stream), step):
        for item in stream[start : start + step]:
            review_case(client, task, item)
        created = client.post("/api/v1/training-jobs", json={"task": task})
        created.raise_for_status()
        job = wait_for_job(client, created.json()["id"])
        model = active_model()
        verdicts = min(start + step, len(stream))
        row = {
            "verdicts": verdicts,
            "version": model.version,
            **evaluate(model, target, source),
            "job": {
                "decision": job.get("decision"),
                "reason": job.get("decision_reason") or job.get("error"),
                "seconds": job.get("progress", {}).get("seconds"),
                "training_cases": sum(
                    sum(v.values()) for v in (job.get("training_set") or {}).get("counts", {}).values()
                ),
            },
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def oracle(
    task: str,
    stream: list[ManifestItem],
    target: ImageSet,
    source: ImageSet,
    replay_items: list[ManifestItem],
) -> dict[str, Any]:
    spec = TASKS[task]
    [shipped] = [v for v in list_versions(ROOT / "model_store") if v.task == task]
    parent = load_model(shipped)
    size = parent.preprocessing.input_size
    validation = [item for item in stream if stable_fraction(item.patient_id or str(item.path), 7) < 0.15]
    training = [item for item in stream if item not in validation]
    started = time.perf_counter()
    result = fine_tune(
        parent,
        load_image_set(training, spec.labels, size),
        load_image_set(validation, spec.labels, size),
        load_image_set(replay_items[: replay_count(len(training), AdaptationParams())], spec.labels, size),
        params=AdaptationParams(),
    )
    from imaging_ai.ml.loading import model_from_weights, serialise_weights

    model = model_from_weights(
        serialise_weights(result.training.network),
        version="oracle",
        task=spec,
        architecture=parent.architecture,
        preprocessing=parent.preprocessing,
        temperature=result.temperature,
    )
    return {
        "verdicts": len(stream),
        **evaluate(model, target, source),
        "seconds": round(time.perf_counter() - started, 1),
    }


def plot(rows: list[dict[str, Any]], frozen: dict[str, Any], oracle_row: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    x = [r["verdicts"] for r in rows]
    ax.plot(x, [r["target_auc"] for r in rows], marker="o", label="active version: new-site test AUC")
    ax.plot(x, [r["source_auc"] for r in rows], marker="s", label="active version: source test AUC")
    ax.axhline(frozen["target_auc"], color="grey", linestyle="--", label="frozen shipped model (new site)")
    ax.axhline(
        oracle_row["target_auc"], color="green", linestyle=":", label="oracle on whole stream (new site)"
    )
    ax.set_xlabel("clinician verdicts so far")
    ax.set_ylabel("AUC")
    ax.set_ylim(0.3, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Adaptation to a new site through the service")
    fig.tight_layout()
    fig.savefig(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", default="chest-xray-pneumonia")
    parser.add_argument("--stream", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument(
        "--source-test", type=Path, default=DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv"
    )
    parser.add_argument("--source-split", default="test", help="Rows of --source-test to use (empty: all).")
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--limit", type=int, help="Use only the first N stream cases.")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "adaptation")
    parser.add_argument("--base-url", help="A running service (default: start one with its own worker).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    spec = TASKS[args.task]
    args.out.mkdir(parents=True, exist_ok=True)

    if args.stream and args.test:
        stream, test = read_manifest(args.stream), read_manifest(args.test)
    else:
        stream, test = split_by_patient(DATASETS / "cxr-nih-adult" / "manifest.csv", 0.3, args.seed)
    if args.limit:
        stream = stream[: args.limit]
    source_items = [
        i for i in read_manifest(args.source_test) if not args.source_split or i.split == args.source_split
    ]
    [shipped] = [v for v in list_versions(ROOT / "model_store") if v.task == args.task]
    size = read_version(shipped.path).preprocessing["input_size"]
    target = load_image_set(test, spec.labels, size)
    source = load_image_set(source_items, spec.labels, size)
    frozen = {"verdicts": None, **evaluate(load_model(shipped), target, source)}
    print(json.dumps({"frozen": frozen}), flush=True)

    if args.base_url:
        raise SystemExit("--base-url: evaluate with the service's own data directory; not supported yet")
    with running_server({"IMAGING_AI_AUTO_TRAIN_AFTER": "0"}) as (base_url, _process):
        data_dir = Path(_process_env(_process)["IMAGING_AI_DATA_DIR"])
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "imaging-ai"), "worker"], env=_process_env(_process)
        )
        try:
            with signed_in_client(base_url, timeout=300) as client:
                rows = replay(client, args.task, stream, args.step, data_dir, target, source)
        finally:
            worker.terminate()
            worker.wait(timeout=60)

    source_train = [i for i in read_manifest(args.source_test) if i.split == "train"]
    source_train.sort(key=lambda item: stable_fraction(str(item.path), args.seed))
    oracle_row = oracle(args.task, stream, target, source, source_train)
    print(json.dumps({"oracle": oracle_row}), flush=True)

    result = {
        "task": args.task,
        "stream": len(stream),
        "test": len(test),
        "step": args.step,
        "frozen": frozen,
        "oracle": oracle_row,
        "curve": rows,
    }
    (args.out / "adaptation.json").write_text(json.dumps(result, indent=2) + "\n")
    with (args.out / "adaptation.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        columns = [
            "verdicts",
            "version",
            "target_auc",
            "target_accuracy",
            "target_sensitivity",
            "target_specificity",
            "source_auc",
        ]
        writer.writerow([*columns, "decision"])
        for r in rows:
            writer.writerow([r[c] for c in columns] + [(r["job"] or {}).get("decision")])
    plot(rows, frozen, oracle_row, args.out / "adaptation.png")


def _process_env(process: subprocess.Popen[bytes]) -> dict[str, str]:
    return dict(getattr(process, "bench_env", {}))


if __name__ == "__main__":
    main()
