"""Replaying real sites through the service to watch the autonomy evidence and its rules at work.

    .venv/bin/python -m bench.trust_replay --out docs/bench/trust_replay

With the documented defaults (target 0.95, at least 200 verdicts, drift threshold 0.15):
1. the source site (Guangzhou test split, the shipped model's own population) and the NIH adult site
   are replayed case by case; each case's label is the clinician's verdict. Every 50 verdicts the
   evidence and the recommended level are recorded per site;
2. where semi-autonomy is recommended, an administrator applies it, then images from another site
   are sent under that site's name (NIH adults as "guangzhou"), and the replay records when the drift
   rule drops the level;
3. the level is earned again, a training job on the NIH verdicts produces a candidate, and promoting
   it (by the gate or, if held back, by the administrator) drops every level of the task.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from bench.adaptation import _process_env, wait_for_job
from bench.common import DATASETS, ROOT, running_server, signed_in_client
from imaging_ai.ml.manifest import ManifestItem, read_manifest, stable_fraction

TASK = "chest-xray-pneumonia"


def send(client: httpx.Client, item: ManifestItem, site: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/predictions",
        files={"file": (item.path.name, item.path.read_bytes())},
        data={"task": TASK, "site": site, "patient_id": item.patient_id or ""},
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def review(client: httpx.Client, prediction: dict[str, Any], label: str) -> None:
    body = (
        {"verdict": "agree"}
        if prediction["predicted_label"] == label
        else {"verdict": "disagree", "label": label}
    )
    client.post(f"/api/v1/predictions/{prediction['id']}/feedback", json=body).raise_for_status()


def site_state(client: httpx.Client, site: str) -> dict[str, Any]:
    sites = client.get(f"/api/v1/tasks/{TASK}/autonomy").json()["sites"]
    return next(s for s in sites if s["site"] == site)


def snapshot(client: httpx.Client, site: str, verdicts: int) -> dict[str, Any]:
    state = site_state(client, site)
    evidence = state["evidence"]
    return {
        "site": site,
        "verdicts": verdicts,
        "level": state["level"],
        "agreement": evidence["agreement"],
        "sensitivity": evidence["sensitivity"],
        "specificity": evidence["specificity"],
        "calibration_error": evidence["calibration_error"],
        "threshold_meeting_target": evidence["threshold_meeting_target"],
        "threshold_evidence": evidence["threshold_evidence"],
        "drift": state["drift"]["score"],
        "recommendation": state["recommendation"],
    }


def replay_site(
    client: httpx.Client, items: list[ManifestItem], site: str, every: int
) -> list[dict[str, Any]]:
    rows = []
    for index, item in enumerate(items, start=1):
        review(client, send(client, item, site), item.label)
        if index % every == 0 or index == len(items):
            rows.append(snapshot(client, site, index))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def apply(client: httpx.Client, site: str, level: str, reason: str) -> httpx.Response:
    return client.put(f"/api/v1/tasks/{TASK}/autonomy", json={"site": site, "level": level, "reason": reason})


def scenario(
    client: httpx.Client, traffic: list[ManifestItem], foreign: list[ManifestItem]
) -> list[dict[str, Any]]:
    """Apply what the evidence recommends at the home site, then drift, then a new version."""
    events: list[dict[str, Any]] = []

    def note(event: dict[str, Any]) -> None:
        events.append(event)
        print(json.dumps(event), flush=True)

    recommended = site_state(client, "guangzhou")["recommendation"]
    note({"event": "recommendation", **recommended})
    if recommended["level"] == "supervised":
        return events
    applied = apply(client, "guangzhou", recommended["level"], "replay: the evidence meets the target")
    note({"event": "applied", "status": applied.status_code, "level": applied.json().get("level")})
    stream = iter(traffic)
    finals = audits = 0
    for item in [next(stream) for _ in range(200)]:
        prediction = send(client, item, "guangzhou")
        finals += prediction["status"] == "final"
        audits += prediction["audit_sample"]
        if prediction["status"] != "final" or prediction["audit_sample"]:
            review(client, prediction, item.label)
    note(
        {
            "event": "traffic",
            "cases": 200,
            "final_at_once": finals,
            "audit_samples": audits,
            "level": site_state(client, "guangzhou")["level"],
        }
    )
    for count, item in enumerate(foreign, start=1):  # another hospital's images under this site's name
        send(client, item, "guangzhou")
        state = site_state(client, "guangzhou")
        if state["level"] == "supervised":
            note({"event": "drift_fallback", "foreign_images": count, "psi": state["drift"]["score"]})
            break
    else:
        note({"event": "no_drift_fallback", "drift": site_state(client, "guangzhou")["drift"]})
    for item in [next(stream) for _ in range(60)]:  # the site's own images again
        review(client, send(client, item, "guangzhou"), item.label)
    state = site_state(client, "guangzhou")
    note({"event": "after_drift", "psi": state["drift"]["score"], "recommendation": state["recommendation"]})
    if state["recommendation"]["level"] != "supervised":
        again = apply(
            client, "guangzhou", state["recommendation"]["level"], "replay: site images are back to normal"
        )
        note({"event": "re_applied", "status": again.status_code})
    created = client.post("/api/v1/training-jobs", json={"task": TASK}).json()
    job = wait_for_job(client, created["id"])
    note(
        {
            "event": "training",
            "decision": job.get("decision"),
            "reason": job.get("decision_reason") or job.get("error"),
        }
    )
    if job.get("decision") == "held_back" and job.get("candidate_version"):
        promoted = client.post(
            f"/api/v1/models/{job['candidate_version']}/promote",
            json={"reason": "replay: administrator override"},
        )
        note({"event": "promoted_by_admin", "status": promoted.status_code})
    state = site_state(client, "guangzhou")
    note({"event": "after_new_version", "level": state["level"], "model_version": state["model_version"]})
    return events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument(
        "--target", type=float, default=0.95, help="IMAGING_AI_AUTONOMY_TARGET of the service."
    )
    parser.add_argument("--min-verdicts", type=int, default=200, help="IMAGING_AI_AUTONOMY_MIN_VERDICTS.")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "trust_replay")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    home = [
        i for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv") if i.split == "test"
    ]
    home.sort(key=lambda item: stable_fraction(str(item.path), 1))  # arrival order, seeded
    nih = read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv")
    nih.sort(key=lambda item: stable_fraction(str(item.path), 1))
    result: dict[str, Any] = {}
    server_env = {
        "IMAGING_AI_AUTO_TRAIN_AFTER": "0",
        "IMAGING_AI_AUTONOMY_TARGET": str(args.target),
        "IMAGING_AI_AUTONOMY_MIN_VERDICTS": str(args.min_verdicts),
    }
    result["settings"] = {"target": args.target, "min_verdicts": args.min_verdicts, "every": args.every}
    # Later traffic from the home site: its training images (the shipped model has seen them, so this
    # part shows the mechanics, not accuracy).
    traffic = [
        i for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv") if i.split == "train"
    ]
    traffic.sort(key=lambda item: stable_fraction(str(item.path), 2))
    with running_server(server_env) as (base_url, process):
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "imaging-ai"), "worker"], env=_process_env(process)
        )
        try:
            with signed_in_client(base_url, timeout=900) as client:
                result["home"] = replay_site(client, home, "guangzhou", args.every)
                result["nih"] = replay_site(client, nih[:400], "nih", args.every)
                result["events"] = events = scenario(client, traffic, nih[400:])
                result["alerts"] = client.get("/api/v1/alerts", params={"task": TASK}).json()
                result["final_sites"] = [
                    {"site": s["site"], "level": s["level"], "recommendation": s["recommendation"]}
                    for s in client.get(f"/api/v1/tasks/{TASK}/autonomy").json()["sites"]
                ]
                print(json.dumps(events), flush=True)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    (args.out / "trust_replay.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        json.dumps({"events": result.get("events"), "home_recommendation": result.get("home_recommendation")})
    )


if __name__ == "__main__":
    main()
