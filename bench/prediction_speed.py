"""Prediction speed: the API over real HTTP against the bare pipeline, measured in the same run.

    .venv/bin/python -m bench.prediction_speed [--requests 60] [--databases sqlite postgresql]
        [--image PATH] [--out FILE.json]

Bare pipeline = decode + preprocess + forward of the task's shipped version, in-process, no HTTP and
no database. API = `POST /api/v1/predictions` with the file, through uvicorn on loopback (upload,
de-identify/hash, store, decode, preprocess, forward, record), once per database named (a fresh SQLite
file, a fresh database on the local PostgreSQL). The two are measured alternately (one bare, one API
request; one bare batch, one round of concurrent requests), and figures are ratios between them, so
they hold across noisy machines.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from bench.common import (
    DATASETS,
    ROOT,
    fresh_database_url,
    peak_rss_mib,
    report,
    running_server,
    signed_in_client,
    summary_ms,
)
from imaging_ai.imaging import decode_image
from imaging_ai.ml.loading import load_model
from imaging_ai.ml.preprocessing import tensor_from_decoded
from imaging_ai.storage.model_store import list_versions

TASK = "chest-xray-pneumonia"


def bare_pipeline(data: bytes, model) -> None:  # type: ignore[no-untyped-def]
    tensor = tensor_from_decoded(decode_image(data, max_pixels=40_000_000), model.preprocessing)
    model.predict(tensor.unsqueeze(0))


def bare_batched(images: list[bytes], model) -> None:  # type: ignore[no-untyped-def]
    tensors = [
        tensor_from_decoded(decode_image(data, max_pixels=40_000_000), model.preprocessing) for data in images
    ]
    batch = torch.stack(tensors)
    model.predict(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--image", type=Path, default=DATASETS / "cxr-nih-adult" / "originals_1024" / "00000573_008.png"
    )
    parser.add_argument(
        "--max-batch", type=int, default=8, help="IMAGING_AI_INFERENCE_MAX_BATCH of the server."
    )
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)

    [stored] = [v for v in list_versions(ROOT / "model_store") if v.task == TASK]
    model = load_model(stored)
    data = args.image.read_bytes()
    # Distinct bytes per request, so the API cannot answer from its content-addressed dedupe.
    variants = [data + b"\0" * i for i in range(args.requests * 3)] if args.image.suffix == ".png" else [data]

    for _ in range(5):
        bare_pipeline(data, model)
    result: dict[str, object] = {
        "image": f"{args.image.parent.name}/{args.image.name}",
        "requests": args.requests,
        "server_max_batch": args.max_batch,
    }
    for database in args.databases:
        bare, api, bare_throughput, api_throughput, server_peak = _interleaved(
            database, args, data, variants, model
        )
        bare_summary, api_summary = summary_ms(bare), summary_ms(api)
        result[database] = {
            "bare_pipeline": bare_summary,
            "api": api_summary,
            "api_over_bare_p50": round(api_summary["p50_ms"] / bare_summary["p50_ms"], 3),
            "api_over_bare_p95": round(api_summary["p95_ms"] / bare_summary["p95_ms"], 3),
            "throughput": {
                "concurrent_clients": args.concurrency,
                "api_requests_per_s": round(api_throughput, 2),
                "bare_batched_images_per_s": round(bare_throughput, 2),
                "api_over_bare_batched": round(api_throughput / bare_throughput, 3),
            },
            "server_peak_rss_mib": server_peak,
        }
    report(result, args.out)


def _interleaved(  # type: ignore[no-untyped-def]
    database: str, args: argparse.Namespace, data: bytes, variants: list[bytes], model
) -> tuple[list[float], list[float], float, float, float]:
    """The bare pipeline and the API measured alternately, request by request and then round by round
    (`concurrency` images batched bare, `concurrency` concurrent API requests), so that both see the
    same machine: load on a shared machine drifts within minutes."""
    with fresh_database_url(database) as url:
        server_env = {"IMAGING_AI_INFERENCE_MAX_BATCH": str(args.max_batch)}
        if url is not None:
            server_env["IMAGING_AI_DATABASE_URL"] = url
        with (
            running_server(server_env) as (base_url, process),
            signed_in_client(base_url, timeout=60) as client,
        ):

            def post(index: int) -> float:
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/predictions",
                    files={"file": ("cxr.png", variants[index % len(variants)])},
                    data={"task": TASK},
                )
                response.raise_for_status()
                return time.perf_counter() - started

            for i in range(5):
                post(len(variants) - 1 - i)
            bare, api = [], []
            for i in range(args.requests):
                started = time.perf_counter()
                bare_pipeline(data, model)
                bare.append(time.perf_counter() - started)
                api.append(post(i))
            batch = [data] * args.concurrency
            bare_seconds = api_seconds = 0.0
            rounds = max(3, args.requests // args.concurrency)
            with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                for round_ in range(rounds):
                    started = time.perf_counter()
                    bare_batched(batch, model)
                    bare_seconds += time.perf_counter() - started
                    first = args.requests + round_ * args.concurrency
                    started = time.perf_counter()
                    list(pool.map(post, range(first, first + args.concurrency)))
                    api_seconds += time.perf_counter() - started
            images = rounds * args.concurrency
            peak = peak_rss_mib(process.pid)
    return bare, api, images / bare_seconds, images / api_seconds, peak


if __name__ == "__main__":
    main()
