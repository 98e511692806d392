"""What each site is *served* while one new site teaches the model: the site-scoped benchmark.

    .venv/bin/python -m bench.site_adaptation --orders 3 --out docs/bench/site_adaptation

Per stream order, a fresh service (its own database and pseudonym key, so its own sequestered
patients) with its worker. NIH adult cases arrive in that order at site `nih` with their labels as the
clinicians' verdicts; after every `--step` verdicts an administrator starts a training job for `nih`
(`POST /training-jobs {"site": "nih"}`) and the worker trains, judges and promotes or holds back.
After 0, 50, 100, 200 and all verdicts every held-out image is sent through `POST /api/v1/predictions`
and scored on what the service answers (its probabilities and its served labels):

- NIH held-out patients (30% of patients, never streamed) at site `nih`;
- the third hospital (Hannover, adult COVID-19 pneumonia, positives only, gives no verdicts) at its
  own site: what site-scoped serving gives it;
- the source test split's report half (Guangzhou, never read by any decision) at its own site.

Rows: **frozen** (0 verdicts: the shipped model, as served), **site-scoped** (each site at its own
site), and **shared** (the same images sent at site `nih`, i.e. served by NIH's version at NIH's
operating point: what one version serving every site gives, today's behaviour before this issue).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import DATASETS, ROOT, review_case, running_server, signed_in_client
from imaging_ai.ml.adaptation_data import source_test_halves
from imaging_ai.ml.base_training import split_manifest
from imaging_ai.ml.manifest import ManifestItem, read_manifest, stable_fraction
from imaging_ai.ml.metrics import binary_auc

TASK = "chest-xray-pneumonia"
NIH, HANNOVER, SOURCE = "nih", "hannover", "guangzhou"
CHECKPOINTS = (0, 50, 100, 200)


def relabel(items: list[ManifestItem], site: str, label: str | None = None) -> list[ManifestItem]:
    return [ManifestItem(i.path, label or i.label, site, i.split, i.patient_id) for i in items]


def data(seed: int) -> tuple[list[ManifestItem], dict[str, list[ManifestItem]]]:
    nih = read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv")
    key = lambda item: item.patient_id or str(item.path)  # noqa: E731
    test = [i for i in nih if stable_fraction(key(i), 0) < 0.3]
    stream = [i for i in nih if stable_fraction(key(i), 0) >= 0.3]
    stream.sort(key=lambda item: stable_fraction(str(item.path), 100 + seed))
    hannover = read_manifest(DATASETS / "cxr-hannover-covid" / "manifest.csv")
    source = split_manifest(
        read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv"),
        validation_fraction=0.1, test_fraction=0.15, seed=0,
    )  # fmt: skip
    _gate, report = source_test_halves(source.test)
    held_out = {
        NIH: relabel(test, NIH),
        HANNOVER: relabel(hannover, HANNOVER, "pneumonia"),
        SOURCE: relabel(report, SOURCE),
    }
    return relabel(stream, NIH), held_out


def served(client: httpx.Client, items: list[ManifestItem], site: str) -> dict[str, Any]:
    """Sends each image at a site; scores the service's answers."""
    scores, called, positive, versions = [], [], [], set()
    for item in items:
        response = client.post(
            "/api/v1/predictions",
            files={"file": (item.path.name, item.path.read_bytes())},
            data={"task": TASK, "site": site},
        )
        response.raise_for_status()
        body = response.json()
        scores.append(body["probabilities"]["pneumonia"])
        called.append(body["predicted_label"] == "pneumonia")
        positive.append(item.label == "pneumonia")
        versions.add((body["model_version"], body["decision_threshold"], body["operating_point"]))
    s, c, p = np.array(scores), np.array(called), np.array(positive)
    auc = binary_auc(s, p)
    return {
        "n": len(items),
        "auc": None if np.isnan(auc) else round(auc, 4),
        "sensitivity": round(float(c[p].mean()), 4) if p.any() else None,
        "specificity": round(float((~c[~p]).mean()), 4) if (~p).any() else None,
        "served_by": sorted([list(v) for v in versions], key=str),
    }


def checkpoint(
    client: httpx.Client, held_out: dict[str, list[ManifestItem]], verdicts: int
) -> dict[str, Any]:
    row: dict[str, Any] = {"verdicts": verdicts, "site_scoped": {}, "shared": {}}
    for site, items in held_out.items():
        row["site_scoped"][site] = served(client, items, site)
        row["shared"][site] = row["site_scoped"][site] if site == NIH else served(client, items, NIH)
    brief = {
        kind: {site: (v["auc"], v["sensitivity"], v["specificity"]) for site, v in row[kind].items()}
        for kind in ("site_scoped", "shared")
    }
    print(json.dumps({"verdicts": verdicts, **brief}), flush=True)
    return row


def wait_for(client: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/training-jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(2)


def one_order(order: int, step: int) -> dict[str, Any]:
    stream, held_out = data(order)
    points = sorted({*CHECKPOINTS, len(stream)})
    env = {"IMAGING_AI_AUTO_TRAIN_AFTER": "0", "IMAGING_AI_PSEUDONYM_KEY": secrets.token_hex(16)}
    rows, jobs = [], []
    with running_server(env) as (base_url, process):
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "imaging-ai"), "worker"],
            env=dict(getattr(process, "bench_env", {})),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with signed_in_client(base_url, timeout=300) as client:
                rows.append(checkpoint(client, held_out, 0))
                for start in range(0, len(stream), step):
                    for item in stream[start : start + step]:
                        review_case(client, TASK, item)
                    done = min(start + step, len(stream))
                    created = client.post("/api/v1/training-jobs", json={"task": TASK, "site": NIH})
                    created.raise_for_status()
                    job = wait_for(client, created.json()["id"])
                    target = (job.get("evaluation") or {}).get("target") or {}
                    jobs.append({
                        "verdicts": done, "decision": job["decision"],
                        "reason": job["decision_reason"] or job["error"],
                        "looks": (job.get("evaluation") or {}).get("looks"), "target_n": target.get("n"),
                        "difference_ci95": target.get("difference_ci95"),
                        "probability_better": target.get("probability_better"),
                    })  # fmt: skip
                    print(json.dumps({"order": order, "job": jobs[-1]}), flush=True)
                    if done in points:
                        rows.append(checkpoint(client, held_out, done))
                task = client.get(f"/api/v1/tasks/{TASK}").json()
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    return {"order": order, "stream": len(stream), "rows": rows, "jobs": jobs, "final_task": task}


def summarise(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and worst over orders, per row kind, site, metric and checkpoint."""
    summary: dict[str, Any] = {}
    labels = ["0", "50", "100", "200", "all"]
    for kind in ("site_scoped", "shared"):
        for site in (NIH, HANNOVER, SOURCE):
            for metric in ("auc", "sensitivity", "specificity"):
                for position, label in enumerate(labels):
                    values = [
                        o["rows"][position][kind][site][metric]
                        for o in orders
                        if position < len(o["rows"]) and o["rows"][position][kind][site][metric] is not None
                    ]
                    if values:
                        summary.setdefault(kind, {}).setdefault(site, {}).setdefault(metric, {})[label] = {
                            "median": round(statistics.median(values), 4),
                            "worst": round(min(values), 4),
                            "runs": values,
                        }
    return summary


def plot(summary: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110)
    labels = ["0", "50", "100", "200", "all"]
    for ax, (site, metric, title) in zip(
        axes,
        ((NIH, "auc", "NIH held-out: AUC"), (NIH, "sensitivity", "NIH held-out: served sensitivity"),
         (HANNOVER, "sensitivity", "Hannover (no verdicts): served sensitivity")),
        strict=True,
    ):  # fmt: skip
        for kind, style in (("site_scoped", "-o"), ("shared", "--s")):
            series = summary.get(kind, {}).get(site, {}).get(metric, {})
            xs = [x for x in labels if x in series]
            ax.plot(xs, [series[x]["median"] for x in xs], style, label=f"{kind} (median)")
            ax.plot(xs, [series[x]["worst"] for x in xs], style, alpha=0.35, label=f"{kind} (worst)")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("NIH verdicts")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)


def markdown(summary: dict[str, Any]) -> str:
    """The table for docs/benchmarks.md: median (worst) over orders of what each site is served."""
    lines = [
        "| verdicts | row | NIH AUC | NIH sensitivity | NIH specificity | Hannover sensitivity | "
        "source report AUC | source report sensitivity | source report specificity |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(kind: str, site: str, metric: str, label: str) -> str:
        value = summary.get(kind, {}).get(site, {}).get(metric, {}).get(label)
        return "-" if value is None else f"{value['median']:.3f} ({value['worst']:.3f})"

    for label in ("0", "50", "100", "200", "all"):
        for kind in ("shared", "site_scoped"):
            if label == "0" and kind == "site_scoped":
                continue
            row = "frozen (shipped)" if label == "0" else kind.replace("_", "-")
            cells = [
                cell(kind, site, metric, label)
                for site, metric in (
                    (NIH, "auc"), (NIH, "sensitivity"), (NIH, "specificity"), (HANNOVER, "sensitivity"),
                    (SOURCE, "auc"), (SOURCE, "sensitivity"), (SOURCE, "specificity"),
                )
            ]  # fmt: skip
            lines.append(f"| {label} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=3)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "site_adaptation")
    parser.add_argument("--report-only", action="store_true", help="Redraw the table and plot from the JSON.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        saved = json.loads((args.out / "site_adaptation.json").read_text())
        summary = summarise(saved["orders"])
        (args.out / "site_adaptation.md").write_text(markdown(summary))
        plot(summary, args.out / "site_adaptation.png")
        print((args.out / "site_adaptation.md").read_text())
        return
    orders = []
    for order in range(args.orders):
        orders.append(one_order(order, args.step))
        result = {"orders": orders, "summary": summarise(orders)}
        (args.out / "site_adaptation.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(summarise(orders), args.out / "site_adaptation.png")
    (args.out / "site_adaptation.md").write_text(markdown(summarise(orders)))


if __name__ == "__main__":
    main()
