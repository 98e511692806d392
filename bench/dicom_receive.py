"""Receiving studies the hospital's way: C-STORE to the listener and STOW-RS, against the REST upload,
measured in the same run.

    .venv/bin/python -m bench.dicom_receive [--rounds 6] [--study-size 10] [--out FILE.json]

One server (`imaging-ai serve`, SQLite, fresh data folder) and one listener (`imaging-ai dicom-listener`)
as separate processes, as `make run` starts them. Each round sends one study of `--study-size` new
instances (a real chest radiograph, new UIDs each time, so every instance is stored and predicted) by
each path in turn: REST (one `POST /api/v1/predictions` per instance, the baseline), STOW-RS (one
`POST /dicom-web/studies` with every instance) and C-STORE (one association with every instance). Each
path's time per instance is reported as a ratio to the REST path's in the same rounds, so the figures
hold on a noisy machine.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pydicom
from pydicom.uid import generate_uid
from pynetdicom import AE

from bench.common import (
    CR_DICOM_SAMPLE,
    ROOT,
    free_port,
    report,
    running_server,
    signed_in_client,
    summary_ms,
)

TASK = "chest-xray-pneumonia"
SAMPLE = CR_DICOM_SAMPLE
CALLER = "BENCH"
BOUNDARY = "bench-dicom-receive"


def new_study(size: int) -> list[bytes]:
    """`size` instances of the sample in one new study and series, each with new UIDs."""
    template = pydicom.dcmread(SAMPLE)
    study, series = generate_uid(), generate_uid()
    files = []
    for number in range(1, size + 1):
        dataset = template.copy()
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, series
        dataset.InstanceNumber = number
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return files


def send_rest(client: httpx.Client, files: list[bytes]) -> None:
    for data in files:
        answer = client.post(
            "/api/v1/predictions", data={"task": TASK, "site": "bench"}, files={"file": ("x.dcm", data)}
        )
        answer.raise_for_status()


def send_stow(client: httpx.Client, files: list[bytes]) -> None:
    body = b"".join(
        b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n"
        for data in files
    )
    answer = client.post(
        "/dicom-web/studies",
        params={"site": "bench", "task": TASK},
        content=body + b"--" + BOUNDARY.encode() + b"--\r\n",
        headers={"Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'},
    )
    if answer.status_code != 200:
        raise RuntimeError(f"STOW-RS answered {answer.status_code}: {answer.text[:500]}")


def send_cstore(port: int, files: list[bytes]) -> None:
    datasets = [pydicom.dcmread(io.BytesIO(data)) for data in files]
    ae = AE(ae_title=CALLER)
    ae.add_requested_context(datasets[0].SOPClassUID, datasets[0].file_meta.TransferSyntaxUID)
    ae.dimse_timeout = ae.network_timeout = 300
    association = ae.associate("127.0.0.1", port, ae_title="IMAGING_AI")
    if not association.is_established:
        raise RuntimeError("the listener refused the association")
    try:
        for dataset in datasets:
            status = association.send_c_store(dataset)
            if getattr(status, "Status", None) != 0:
                raise RuntimeError(f"C-STORE status {status}")
    finally:
        association.release()


def wait_for_listener(port: int, deadline_s: float = 120) -> None:
    ae = AE(ae_title=CALLER)
    ae.add_requested_context("1.2.840.10008.1.1")  # Verification
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        association = ae.associate("127.0.0.1", port, ae_title="IMAGING_AI")
        if association.is_established:
            association.send_c_echo()
            association.release()
            return
        time.sleep(0.5)
    raise RuntimeError("the listener did not start")


def run(rounds: int, study_size: int) -> dict[str, object]:
    dicom_port = free_port()
    callers = json.dumps({CALLER: {"site": "bench", "task": TASK}})
    extra = {"IMAGING_AI_DICOM_CALLERS": callers, "IMAGING_AI_DICOM_PORT": str(dicom_port)}
    with running_server(extra) as (base_url, server):
        env = server.bench_env  # type: ignore[attr-defined]
        cli = str(Path(sys.executable).parent / "imaging-ai")
        listener = subprocess.Popen(
            [cli, "dicom-listener"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_listener(dicom_port)
            per_instance: dict[str, list[float]] = {"rest": [], "stow_rs": [], "c_store": []}
            with signed_in_client(base_url, timeout=300) as client:
                send_rest(client, new_study(2))  # warm-up: weights loaded, caches filled
                send_stow(client, new_study(2))
                send_cstore(dicom_port, new_study(2))
                for _ in range(rounds):
                    for path, send in (
                        ("rest", lambda files: send_rest(client, files)),
                        ("stow_rs", lambda files: send_stow(client, files)),
                        ("c_store", lambda files: send_cstore(dicom_port, files)),
                    ):
                        files = new_study(study_size)
                        started = time.perf_counter()
                        send(files)
                        elapsed = time.perf_counter() - started
                        per_instance[path].append(elapsed / study_size)
        finally:
            listener.terminate()
            listener.wait(timeout=30)
    summaries = {path: summary_ms(values) for path, values in per_instance.items()}
    return {
        "rounds": rounds,
        "study_size": study_size,
        "sample": SAMPLE.name,
        "per_instance_ms": summaries,
        "ratio_to_rest_at_p50": {
            path: round(summary["p50_ms"] / summaries["rest"]["p50_ms"], 3)
            for path, summary in summaries.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--study-size", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "dicom_receive.json")
    args = parser.parse_args()
    report(run(args.rounds, args.study_size), args.out)


if __name__ == "__main__":
    main()
