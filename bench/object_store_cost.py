"""What keeping images in an S3-compatible object store costs per prediction, against the local disk,
measured in the same run.

    .venv/bin/python -m bench.object_store_cost [--rounds 40] [--out FILE.json]

Two servers (`imaging-ai serve`, SQLite, fresh data folders), one with ``object_store=local`` and one
with ``object_store=s3`` on a SeaweedFS (`weed server`, loopback, started here), each answering
``POST /api/v1/predictions`` with a new 127 kB chest radiograph DICOM (new UIDs, so every request stores
a new original: HEAD + conditional PUT on S3, a linked temporary file locally). Requests alternate between
the two servers, so a noisy machine slows both alike; the cost is the ratio of their medians.

Then the image store alone, in process: `BlobStore.put` + `BlobStore.read` (which checks the SHA-256)
of the same DICOM, new bytes each time, alternating the local folder and the bucket.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pydicom
from pydicom.uid import generate_uid
from tests.storage.seaweed import seaweed_server

from bench.common import CR_DICOM_SAMPLE, report, running_server, signed_in_client, summary_ms
from imaging_ai.storage.blob_store import BlobStore
from imaging_ai.storage.object_store import S3ObjectStore

TASK = "chest-xray-pneumonia"
SAMPLE = CR_DICOM_SAMPLE
BUCKET = "imaging-ai-bench"


def new_instance(template: pydicom.Dataset) -> bytes:
    dataset = template.copy()
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def predictions(rounds: int, s3_env: dict[str, str], template: pydicom.Dataset) -> dict[str, Any]:
    times: dict[str, list[float]] = {"local": [], "s3": []}
    with (
        running_server({"IMAGING_AI_DICOM_LISTENER": "false"}) as (local_url, _),
        running_server(s3_env) as (s3_url, _),
        signed_in_client(local_url, 120) as local,
        signed_in_client(s3_url, 120) as s3,
    ):
        clients = {"local": local, "s3": s3}
        for round_number in range(rounds + 2):  # two warm-up rounds (model load, connections)
            order = ("local", "s3") if round_number % 2 == 0 else ("s3", "local")
            for kind in order:
                data = new_instance(template)
                started = time.perf_counter()
                answer = clients[kind].post(
                    "/api/v1/predictions",
                    data={"task": TASK, "site": "bench"},
                    files={"file": ("x.dcm", data)},
                )
                elapsed = time.perf_counter() - started
                answer.raise_for_status()
                if round_number >= 2:
                    times[kind].append(elapsed)
    return _compare(times)


def blob_store(rounds: int, s3: S3ObjectStore, template: pydicom.Dataset) -> dict[str, Any]:
    times: dict[str, list[float]] = {"local": [], "s3": []}
    with tempfile.TemporaryDirectory(prefix="bench-blobs-") as folder:
        stores = {
            "local": BlobStore(Path(folder) / "images"),
            "s3": BlobStore(s3, cache_dir=Path(folder) / "c"),
        }
        for round_number in range(rounds + 2):
            order = ("local", "s3") if round_number % 2 == 0 else ("s3", "local")
            for kind in order:
                data = new_instance(template)
                started = time.perf_counter()
                stored = stores[kind].put(data)
                assert stores[kind].read(stored.sha256) == data
                elapsed = time.perf_counter() - started
                if round_number >= 2:
                    times[kind].append(elapsed)
    return _compare(times)


def _compare(times: dict[str, list[float]]) -> dict[str, Any]:
    local, s3 = summary_ms(times["local"]), summary_ms(times["s3"])
    return {
        "local": local,
        "s3": s3,
        "s3_over_local_p50": round(s3["p50_ms"] / local["p50_ms"], 3),
        "s3_minus_local_p50_ms": round(s3["p50_ms"] - local["p50_ms"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--blob-rounds", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    template = pydicom.dcmread(SAMPLE)
    with tempfile.TemporaryDirectory(prefix="bench-seaweed-") as root, seaweed_server(Path(root)) as server:
        os.environ.update(server.environment())  # the standard variables, as a deployment sets them
        s3_env = {
            **server.environment(),
            "IMAGING_AI_DICOM_LISTENER": "false",
            "IMAGING_AI_OBJECT_STORE": "s3",
            "IMAGING_AI_S3_ENDPOINT_URL": server.endpoint_url,
            "IMAGING_AI_S3_BUCKET": BUCKET,
            "IMAGING_AI_S3_PREFIX": "serve",
        }
        s3 = S3ObjectStore.connect(
            endpoint_url=server.endpoint_url, bucket=BUCKET, region=server.region, prefix="blobs/"
        )
        result = {
            "sample_bytes": SAMPLE.stat().st_size,
            "blob_store_put_and_read": blob_store(args.blob_rounds, s3, template),
            "prediction_upload": predictions(args.rounds, s3_env, template),
            "rounds": args.rounds,
            "blob_rounds": args.blob_rounds,
        }
    report(result, args.out)


if __name__ == "__main__":
    main()
