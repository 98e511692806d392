"""Prediction throughput of one API replica against two, in the same run, on one PostgreSQL database.

    .venv/bin/python -m bench.replicas [--requests 120] [--concurrency 8] [--rounds 3] [--out FILE.json]

Two `imaging-ai serve` processes share a fresh database on the local PostgreSQL and one data directory.
Concurrent clients send `POST /api/v1/predictions` (small chest X-ray PNGs) either all to replica A, or
round-robin to A and B (a trivial client-side balancer); the two modes alternate round by round, so
the ratio holds on a noisy machine. The figure is the ratio of requests per second, two replicas over
one. It cannot reach 2 unless the machine has cores to spare: on 2 cores both replicas share the same
two cores (decoding and forward passes), so what a second replica adds is only what one process leaves
idle (its work held under the GIL: multipart parsing, JSON, the ORM, the event loop).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import (
    BENCH_PASSWORD,
    BENCH_USER,
    DATASETS,
    free_port,
    fresh_database_url,
    report,
    running_server,
    summary_ms,
)

TASK = "chest-xray-pneumonia"


def _images(count: int) -> list[tuple[str, bytes]]:
    root = DATASETS / "cxr-nih-adult"
    rows = list(csv.DictReader((root / "manifest.csv").open()))[:count]
    return [(Path(row["path"]).name, (root / row["path"]).read_bytes()) for row in rows]


def _second_replica(env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    cli = str(Path(sys.executable).parent / "imaging-ai")
    process = subprocess.Popen(
        [cli, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return base_url, process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the second replica did not become ready")


def _round(
    clients: list[httpx.Client], images: list[tuple[str, bytes]], requests: int, concurrency: int
) -> tuple[float, list[float], int]:
    """Sends `requests` predictions with `concurrency` threads, round-robin over `clients`; returns the
    elapsed seconds, the latencies and the number of failed requests."""
    turn = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    failed = [0]

    def post(index: int) -> None:
        with lock:
            client = clients[next(turn) % len(clients)]
        name, data = images[index % len(images)]
        started = time.perf_counter()
        try:
            response = client.post(
                "/api/v1/predictions", files={"file": (name, data)}, data={"task": TASK, "site": "bench"}
            )
            ok = response.status_code == 201
        except httpx.HTTPError:
            ok = False
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            failed[0] += 0 if ok else 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, range(requests)))
    return time.perf_counter() - started, latencies, failed[0]


@dataclass
class Totals:
    seconds: float = 0.0
    requests: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, seconds: float, requests: int, failed: int, latencies: list[float]) -> None:
        self.seconds += seconds
        self.requests += requests
        self.failed += failed
        self.latencies += latencies

    def figures(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "failed": self.failed,
            "requests_per_s": round(self.requests / self.seconds, 2),
            **summary_ms(self.latencies),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=120, help="Predictions per round.")
    parser.add_argument("--concurrency", type=int, default=8, help="Concurrent clients.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of each mode, alternated.")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    images = _images(64)
    with fresh_database_url("postgresql") as url:
        assert url is not None
        with running_server({"IMAGING_AI_DATABASE_URL": url}) as (a_url, a_process):
            env = {**a_process.bench_env}  # type: ignore[attr-defined]  # same database and data directory
            b_url, b_process = _second_replica(env)
            try:
                result = _measure(a_url, b_url, images, args)
            finally:
                b_process.terminate()
                b_process.wait(timeout=30)
    result["cpu_cores"] = os.cpu_count()
    report(result, args.out)


def _measure(
    a_url: str, b_url: str, images: list[tuple[str, bytes]], args: argparse.Namespace
) -> dict[str, object]:
    a = httpx.Client(base_url=a_url, timeout=120)
    login = a.post("/api/v1/auth/login", json={"username": BENCH_USER, "password": BENCH_PASSWORD})
    login.raise_for_status()
    a.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    # The session made at A is a database row: B accepts the same cookie.
    b = httpx.Client(base_url=b_url, timeout=120, cookies=a.cookies, headers=dict(a.headers))
    try:
        for client in (a, b):  # warm-up: load the version in each replica, open connections
            _round([client], images, 2 * args.concurrency, args.concurrency)
        modes: dict[str, list[httpx.Client]] = {"one_replica": [a], "two_replicas": [a, b]}
        totals = {mode: Totals() for mode in modes}
        for _ in range(args.rounds):
            for mode, clients in modes.items():
                seconds, latencies, failed = _round(clients, images, args.requests, args.concurrency)
                totals[mode].add(seconds, args.requests, failed, latencies)
    finally:
        a.close()
        b.close()
    figures = {mode: total.figures() for mode, total in totals.items()}
    one = float(figures["one_replica"]["requests_per_s"])
    two = float(figures["two_replicas"]["requests_per_s"])
    return {
        "benchmark": "replicas",
        "database": "postgresql",
        "concurrency": args.concurrency,
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        **figures,
        "two_over_one": round(two / one, 3),
    }


if __name__ == "__main__":
    main()
