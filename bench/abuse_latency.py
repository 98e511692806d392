"""Latency of a light authenticated request while the service is abused (issue #13).

    .venv/bin/python -m bench.abuse_latency [--requests 80] [--attackers 8] [--renders 3] [--out FILE.json]

Against a real server (`imaging-ai serve`, fresh SQLite database), the same signed-in client times
`GET /api/v1/tasks` in three phases of the same run:

1. idle (the baseline);
2. while `--attackers` clients send failed sign-ins as fast as they are answered, each with a new
   user name. The server's sign-in limits are raised for the run (`IMAGING_AI_LOGIN_MAX_FAILURES_*`),
   so that every attempt costs a real Argon2 check: the worst case, an attack from many addresses;
3. the same, plus `--renders` clients rendering a generated 6000 x 6000 PNG (36 megapixels, under the
   40-megapixel limit) at the viewer's size, over and over.

Figures are p50/p95 per phase and their ratio to idle. Goal: p95 under 200 ms under abuse.
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.common import BENCH_PASSWORD, BENCH_USER, report, running_server, signed_in_client, summary_ms

LIGHT = "/api/v1/tasks"
PHASES = ("idle", "failed_sign_ins", "failed_sign_ins_and_renders")


def large_png(side: int = 6000) -> bytes:
    """A smooth greyscale image with some noise: large in pixels, a few MB as a PNG."""
    rng = np.random.default_rng(13)
    ramp = np.linspace(0, 200, side, dtype=np.float32)
    pixels = ramp[None, :] * 0.5 + ramp[:, None] * 0.5 + rng.normal(0, 6, (side, side)).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def time_requests(client: httpx.Client, count: int, pause: float, errors: Counter[str]) -> list[float]:
    """Times `count` light requests; a failed one is timed too, and counted in `errors` by status."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        try:
            status = str(client.get(LIGHT).status_code)
        except httpx.TransportError as error:
            status = type(error).__name__
        timings.append(time.perf_counter() - started)
        if status != "200":
            errors[status] += 1
        time.sleep(pause)
    return timings


def time_sign_ins(base_url: str, count: int) -> list[float]:
    """The benchmark's administrator signing in (a fresh client each time), one after another."""
    timings = []
    for _ in range(count):
        with httpx.Client(base_url=base_url, timeout=120) as fresh:
            started = time.perf_counter()
            fresh.post(
                "/api/v1/auth/login", json={"username": BENCH_USER, "password": BENCH_PASSWORD}
            ).raise_for_status()
            timings.append(time.perf_counter() - started)
    return timings


class Load:
    """Background clients repeating one request until stopped; counts their answers by status."""

    def __init__(self, base_url: str, clients: int, request: Callable[[httpx.Client, int], httpx.Response]):
        self.stop = threading.Event()
        self.statuses: Counter[int | str] = Counter()
        self.lock = threading.Lock()
        self.started = time.perf_counter()
        self.threads = [
            threading.Thread(target=self._run, args=(base_url, index, request), daemon=True)
            for index in range(clients)
        ]

    def _run(self, base_url: str, index: int, request: Callable[[httpx.Client, int], httpx.Response]) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            sent = 0
            while not self.stop.is_set():
                try:
                    status: int | str = request(client, index * 1_000_000 + sent).status_code
                except httpx.TransportError as error:  # an overloaded server may drop connections
                    status = type(error).__name__
                sent += 1
                with self.lock:
                    self.statuses[status] += 1

    def __enter__(self) -> Load:
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def rate(self) -> float:
        return round(sum(self.statuses.values()) / (time.perf_counter() - self.started), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=80, help="Light requests timed per phase.")
    parser.add_argument("--pause", type=float, default=0.05, help="Seconds between light requests.")
    parser.add_argument("--attackers", type=int, default=8)
    parser.add_argument("--renders", type=int, default=3)
    parser.add_argument("--render-size", type=int, default=2048, help="The web viewer asks for 2048.")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    unlimited = {
        "IMAGING_AI_LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
        "IMAGING_AI_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    }
    png = large_png()
    with running_server(unlimited) as (base_url, _process), signed_in_client(base_url, timeout=120) as client:
        upload = client.post("/api/v1/images", files={"file": ("large.png", png, "image/png")})
        upload.raise_for_status()
        render_path = f"/api/v1/images/{upload.json()['id']}/render?size={args.render_size}"
        time_requests(client, 10, args.pause, Counter())  # warm-up

        def fail_sign_in(attacker: httpx.Client, n: int) -> httpx.Response:
            return attacker.post(
                "/api/v1/auth/login", json={"username": f"guess{n}", "password": "wrong " * 3}
            )

        # The viewers share the administrator's session cookie (a read needs no CSRF token).
        cookies = dict(client.cookies)

        def render_signed_in(viewer: httpx.Client, _n: int) -> httpx.Response:
            viewer.cookies.update(cookies)
            return viewer.get(render_path)

        errors: dict[str, Counter[str]] = {phase: Counter() for phase in PHASES}
        idle = time_requests(client, args.requests, args.pause, errors["idle"])
        idle_sign_ins = time_sign_ins(base_url, 5)
        with Load(base_url, args.attackers, fail_sign_in) as sign_ins:
            time.sleep(2)
            under_sign_ins = time_requests(client, args.requests, args.pause, errors["failed_sign_ins"])
            # What the attack costs the people it does not lock out: their own sign-ins queue for Argon2.
            attacked_sign_ins = time_sign_ins(base_url, 5)
            sign_in_rate, sign_in_statuses = sign_ins.rate(), dict(sign_ins.statuses)
        with (
            Load(base_url, args.attackers, fail_sign_in) as sign_ins_2,
            Load(base_url, args.renders, render_signed_in) as renders,
        ):
            time.sleep(2)
            under_both = time_requests(
                client, args.requests, args.pause, errors["failed_sign_ins_and_renders"]
            )
            both_rates = {"sign_ins_per_s": sign_ins_2.rate(), "renders_per_s": renders.rate()}
            render_statuses = dict(renders.statuses)

    phases = {
        "idle": summary_ms(idle),
        "failed_sign_ins": summary_ms(under_sign_ins),
        "failed_sign_ins_and_renders": summary_ms(under_both),
    }
    base = phases["idle"]
    result = {
        "light_request": f"GET {LIGHT}",
        "requests_per_phase": args.requests,
        "attackers": args.attackers,
        "renders": {"clients": args.renders, "image": "generated 6000x6000 PNG", "size": args.render_size},
        "phases": phases,
        "ratio_to_idle": {
            name: {
                "p50": round(phase["p50_ms"] / base["p50_ms"], 2),
                "p95": round(phase["p95_ms"] / base["p95_ms"], 2),
            }
            for name, phase in phases.items()
            if name != "idle"
        },
        "failed_sign_ins_per_s": sign_in_rate,
        "real_sign_in": {
            "idle": summary_ms(idle_sign_ins),
            "under_failed_sign_ins": summary_ms(attacked_sign_ins),
        },
        "sign_in_statuses": sign_in_statuses,
        "with_renders": {**both_rates, "render_statuses": render_statuses},
        "light_request_errors": {phase: dict(counts) for phase, counts in errors.items()},
        "goal_p95_under_200_ms": all(phase["p95_ms"] < 200 for phase in phases.values())
        and not any(errors.values()),
    }
    report(result, args.out)


if __name__ == "__main__":
    main()
