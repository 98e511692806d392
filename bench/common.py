"""Helpers shared by the benchmarks: a real server in a subprocess, timing summaries."""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from imaging_ai.ml.manifest import ManifestItem

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("IMAGING_AI_DATASETS_DIR", ROOT.parent / "shared" / "datasets"))
CR_DICOM_SAMPLE = (
    DATASETS
    / "dicom-samples"
    / "cr_chest"
    / ("siim_1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm")
)
"""A real 127 kB chest radiograph (DICOM): the sample of the receiving and storage benchmarks."""


BENCH_USER = "bench.admin"
BENCH_PASSWORD = secrets.token_urlsafe(18)
"""The benchmark's throwaway server gets a throwaway administrator with a random password."""


def report(result: dict[str, Any], out: Path | None) -> None:
    """Prints a benchmark's result and, when asked, writes it as JSON (the file docs/ cites)."""
    print(json.dumps(result, indent=2))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


POSTGRES_ADMIN_URL = os.environ.get(
    "IMAGING_AI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def fresh_database_url(kind: str) -> Iterator[str | None]:
    """None for the embedded default (SQLite in the server's data directory), or the URL of a new
    PostgreSQL database on the local server, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    import psycopg  # only the PostgreSQL runs need the driver

    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"imaging_ai_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_server(extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`imaging-ai serve` on a loopback port with a fresh data directory (and SQLite database, unless
    `extra_env` names another with IMAGING_AI_DATABASE_URL)."""
    with tempfile.TemporaryDirectory(prefix="imaging-ai-bench-") as data_dir:
        port = free_port()
        env = {
            **os.environ,
            "IMAGING_AI_DATA_DIR": data_dir,
            "IMAGING_AI_PORT": str(port),
            "IMAGING_AI_LOG_LEVEL": "WARNING",
            "IMAGING_AI_COOKIE_SECURE": "false",  # plain http on loopback, as `make run`
            # A fixed pseudonym key: the patient-level sequestering depends on it, and runs must repeat.
            "IMAGING_AI_PSEUDONYM_KEY": "benchmark-pseudonym-key",
            **(extra_env or {}),
        }
        cli = str(Path(sys.executable).parent / "imaging-ai")
        subprocess.run([cli, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run(
            [cli, "create-admin", "--username", BENCH_USER, "--password-stdin"],
            env=env,
            input=f"{BENCH_PASSWORD}\n".encode(),
            check=True,
            capture_output=True,
        )
        process = subprocess.Popen(
            [cli, "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        process.bench_env = env  # type: ignore[attr-defined]  # the benchmark starts its worker with it
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            else:
                raise RuntimeError("server did not become ready")
            yield base_url, process
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def signed_in_client(base_url: str, timeout: float) -> Iterator[httpx.Client]:
    """An HTTP client signed in as the benchmark's administrator (cookie session + CSRF header)."""
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        login = client.post("/api/v1/auth/login", json={"username": BENCH_USER, "password": BENCH_PASSWORD})
        login.raise_for_status()
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        yield client


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def verdict_body(prediction: dict[str, Any], item: ManifestItem) -> dict[str, str]:
    """The clinician's verdict (the item's label): a blind read is read, not agreed with."""
    if prediction.get("blind_read"):
        return {"verdict": "read", "label": item.label}
    if prediction["predicted_label"] == item.label:
        return {"verdict": "agree"}
    return {"verdict": "disagree", "label": item.label}


def review_case(client: httpx.Client, task: str, item: ManifestItem) -> dict[str, object]:
    """One case as a hospital sends it: predict, then the clinician's verdict (the item's label)."""
    prediction = client.post(
        "/api/v1/predictions",
        files={"file": (item.path.name, item.path.read_bytes())},
        data={"task": task, "site": item.site, "patient_id": item.patient_id or ""},
    ).json()
    body = verdict_body(prediction, item)
    client.post(f"/api/v1/predictions/{prediction['id']}/feedback", json=body).raise_for_status()
    return prediction  # type: ignore[no-any-return]
