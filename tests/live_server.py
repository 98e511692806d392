"""The real app served by uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from imaging_ai.api.app import create_app
from imaging_ai.cli import uvicorn_options
from imaging_ai.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answering(url: str, *, timeout: float) -> None:
    """Polls a probe URL until it answers 200 (a server starting in a thread or another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    port = free_port()
    # Configured as `imaging-ai serve` configures uvicorn (logging, keep-alive, trusted proxies).
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, lifespan="on", **uvicorn_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    wait_until_answering(f"{base_url}/healthz", timeout=20)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
