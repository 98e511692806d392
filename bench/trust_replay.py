"""Replaying real sites through the service to watch earned autonomy under the blind-read rules.

    .venv/bin/python -m bench.trust_replay --orders 3 --out docs/bench/trust_replay
    .venv/bin/python -m bench.trust_replay --orders 3 --blind-read-fraction 1 --out docs/bench/trust_replay \
        --screenshot docs/screenshots/trust-replay.png    # after scripts/frontend.sh build

Per arrival order (the service draws blind reads itself, at the documented default share 0.2 unless
`--blind-read-fraction` says otherwise), with the documented error targets (normal 0.05: missed
pneumonia among answers finalised as normal; pneumonia 0.15: false alarms among answers finalised as
pneumonia) and alpha 0.05:

1. the source site: the first 400 images of the Guangzhou TEST split (the shipped model never trained
   on them) are sent as "guangzhou"; a clinician reads each one, blind where the service drew it, with
   the label of record. Every 50 cases the per-label certification is recorded;
2. if a label is certified, an administrator applies semi-autonomy as recommended; the remaining 224
   test images arrive; the replay counts the answers final at once and their true error per label
   (the labels of record are known here, so what the service *serves* is measured, not estimated);
3. NIH adult images are sent under the source site's name (a site swap): the number of images until
   the drift test drops the level;
4. the NIH site itself: 400 images read as above, to show what a new site's evidence says.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
from pathlib import Path
from typing import Any

import httpx

from bench.common import BENCH_PASSWORD, BENCH_USER, DATASETS, ROOT, running_server, signed_in_client
from imaging_ai.ml.manifest import ManifestItem, read_manifest

TASK = "chest-xray-pneumonia"
HOME = "guangzhou"


def send(client: httpx.Client, item: ManifestItem, site: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/predictions",
        files={"file": ("image", item.path.read_bytes())},
        data={"task": TASK, "site": site, "patient_id": item.patient_id or ""},
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def review(client: httpx.Client, prediction: dict[str, Any], label: str) -> None:
    """A clinician's verdict: the label read blind when the answer is hidden, else agree or correct."""
    if prediction["answer_hidden"]:
        body = {"verdict": "read", "label": label}
    elif prediction["predicted_label"] == label:
        body = {"verdict": "agree"}
    else:
        body = {"verdict": "disagree", "label": label}
    client.post(f"/api/v1/predictions/{prediction['id']}/feedback", json=body).raise_for_status()


def site_state(client: httpx.Client, site: str) -> dict[str, Any]:
    sites = client.get(f"/api/v1/tasks/{TASK}/autonomy").json()["sites"]
    return next(s for s in sites if s["site"] == site)


def snapshot(client: httpx.Client, site: str, cases: int) -> dict[str, Any]:
    state = site_state(client, site)
    return {
        "site": site,
        "cases": cases,
        "level": state["level"],
        "blind_reads": state["blind_reads"],
        "classes": {
            c["label"]: {
                "certified_threshold": c["certified_threshold"],
                "first_step": c["steps"][0]["bound"] if c["steps"] else None,
                "last_certified_bound": next(
                    (s["bound"] for s in reversed(c["steps"]) if s["certified"]), None
                ),
            }
            for c in state["classes"]
        },
        "drift": state["drift"],
        "recommendation": state["recommendation"],
    }


def read_site(client: httpx.Client, items: list[ManifestItem], site: str, every: int) -> list[dict[str, Any]]:
    rows = []
    for index, item in enumerate(items, start=1):
        review(client, send(client, item, site), item.label)
        if index % every == 0 or index == len(items):
            rows.append(snapshot(client, site, index))
            print(
                json.dumps({k: rows[-1][k] for k in ("site", "cases", "blind_reads", "classes")}), flush=True
            )
    return rows


def serve_traffic(client: httpx.Client, items: list[ManifestItem]) -> dict[str, Any]:
    """Cases arrive under the level in force; the waiting ones and the drawn audits are read."""
    finals: dict[str, list[bool]] = {}
    waiting = 0
    for item in items:
        prediction = send(client, item, HOME)
        if prediction["status"] == "final":
            if prediction["audit_sample"]:
                review(client, prediction, item.label)  # the blind audit, then the answer is revealed
                prediction = client.get(f"/api/v1/predictions/{prediction['id']}").json()
            label = str(prediction["predicted_label"])
            finals.setdefault(label, []).append(label != item.label)
        else:
            waiting += 1
            review(client, prediction, item.label)
    return {
        "cases": len(items),
        "waiting_for_a_clinician": waiting,
        "final_at_once": {label: len(errors) for label, errors in finals.items()},
        "true_error_of_final": {
            label: round(sum(errors) / len(errors), 4) for label, errors in finals.items() if errors
        },
        "wrong_final": {label: sum(errors) for label, errors in finals.items()},
    }


def swap(client: httpx.Client, foreign: list[ManifestItem]) -> dict[str, Any]:
    for count, item in enumerate(foreign, start=1):
        send(client, item, HOME)
        state = site_state(client, HOME)
        if state["level"] == "supervised":
            return {"fell_back_after": count, "drift": state["drift"]}
    return {"fell_back_after": None, "drift": site_state(client, HOME)["drift"]}


def trust_screenshot(base_url: str, out: Path) -> None:
    """The Trust screen of the running replay, in headless Chromium (needs `scripts/frontend.sh build`)."""
    env = {
        **os.environ,
        "BASE_URL": base_url,
        "E2E_USERNAME": BENCH_USER,
        "E2E_PASSWORD": BENCH_PASSWORD,
        "TASK": TASK,
        "SITE": HOME,
    }
    subprocess.run(
        ["node", "e2e/trust-live.screenshot.mjs", str(out.resolve())],
        cwd=ROOT / "frontend",
        env=env,
        check=True,
        timeout=300,
    )


def one_order(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    home = [
        i for i in read_manifest(DATASETS / "cxr-guangzhou-pediatric" / "manifest.csv") if i.split == "test"
    ]
    nih = read_manifest(DATASETS / "cxr-nih-adult" / "manifest.csv")
    random.Random(seed).shuffle(home)
    random.Random(seed).shuffle(nih)
    server_env = {
        "IMAGING_AI_AUTO_TRAIN_AFTER": "0",
        "IMAGING_AI_BLIND_READ_FRACTION": str(args.blind_read_fraction),
    }
    result: dict[str, Any] = {"seed": seed}
    with (
        running_server(server_env) as (base_url, _process),
        signed_in_client(base_url, timeout=900) as client,
    ):
        result["home"] = read_site(client, home[:400], HOME, args.every)
        recommended = site_state(client, HOME)["recommendation"]
        result["recommendation"] = recommended
        if recommended["level"] != "supervised":
            applied = client.put(
                f"/api/v1/tasks/{TASK}/autonomy",
                json={"site": HOME, "level": recommended["level"], "reason": "replay: as certified"},
            )
            result["applied"] = {
                "status": applied.status_code,
                "thresholds": recommended["class_thresholds"],
            }
            result["traffic"] = serve_traffic(client, home[400:])
            result["swap"] = swap(client, nih[:100])
        result["nih"] = read_site(client, nih[100:500], "nih", args.every)
        result["alerts"] = [
            {"kind": a["kind"], "site": a["site"], "message": a["message"]}
            for a in client.get("/api/v1/alerts", params={"task": TASK}).json()
        ]
        if args.screenshot and seed == 0:
            trust_screenshot(base_url, args.screenshot)
    print(json.dumps({k: v for k, v in result.items() if k not in ("home", "nih")}), flush=True)
    return result


def summarise(orders: list[dict[str, Any]]) -> dict[str, Any]:
    def certified(order: dict[str, Any], site: str) -> dict[str, Any]:
        return {label: c["certified_threshold"] for label, c in order[site][-1]["classes"].items()}

    swaps = [o["swap"]["fell_back_after"] for o in orders if o.get("swap")]
    finals = [o["traffic"] for o in orders if o.get("traffic")]
    return {
        "orders": len(orders),
        "home_certified_after_400": [certified(o, "home") for o in orders],
        "home_blind_reads_after_400": [o["home"][-1]["blind_reads"] for o in orders],
        "nih_certified_after_400": [certified(o, "nih") for o in orders],
        "nih_drift_after_400": [o["nih"][-1]["drift"]["drifted"] for o in orders],
        "traffic": finals,
        "swap_fell_back_after": swaps,
        "swap_median": statistics.median([s for s in swaps if s is not None]) if any(swaps) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=3)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--blind-read-fraction", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "trust_replay")
    parser.add_argument(
        "--screenshot", type=Path, help="save the Trust screen at the end of the first order to this PNG"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    orders = [one_order(args, seed) for seed in range(args.orders)]
    result = {
        "settings": {
            "orders": args.orders,
            "every": args.every,
            "blind_read_fraction": args.blind_read_fraction,
        },
        "summary": summarise(orders),
        "orders": orders,
    }
    name = f"trust_replay_blind{args.blind_read_fraction:g}.json"
    (args.out / name).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
