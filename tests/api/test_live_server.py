"""Behaviour that needs a real HTTP server: streaming upload limits and concurrent uploads."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import httpx
import pytest

from imaging_ai.settings import Settings
from tests import samples
from tests.accounts import bearer, create_api_key, database
from tests.live_server import serve

LIMIT = 1024 * 1024


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    with serve(settings.model_copy(update={"max_upload_bytes": LIMIT})) as url:
        yield url


@pytest.fixture
def gateway(settings: Settings) -> dict[str, str]:
    """Headers of a hospital system's API key allowed to upload (`predict`)."""
    with database(settings) as factory:
        return bearer(create_api_key(factory, "pacs-gateway", ("predict", "read")))


def _raw_request(base_url: str, head: bytes, body_chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Sends a request chunk by chunk until the server answers; returns (answer, bytes sent)."""
    address = urlparse(base_url)
    sent = 0
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head)
        connection.settimeout(0.02)
        answer = b""
        for chunk in body_chunks:
            try:
                connection.sendall(chunk)
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                answer = connection.recv(65536)
                if answer:
                    break
            except TimeoutError:
                continue
        connection.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = connection.recv(65536)
            if not more:
                break
            answer += more
    return answer, sent


def test_declared_oversized_body_is_refused_before_it_is_sent(live_url: str) -> None:
    head = (
        b"POST /api/v1/images HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\n"
        + f"Content-Length: {LIMIT * 50}\r\n\r\n".encode()
    )
    answer, sent = _raw_request(live_url, head, iter([b"x" * 1024] * 10))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < LIMIT
    assert httpx.get(f"{live_url}/healthz").status_code == 200


def test_streamed_oversized_body_is_refused_while_streaming(live_url: str) -> None:
    head = (
        b"POST /api/v1/images HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    part_head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
    payload = b"\x89PNG" + b"0" * (64 * 1024 - 4)

    def chunks() -> Iterator[bytes]:
        yield f"{len(part_head):x}\r\n".encode() + part_head + b"\r\n"
        for _ in range(LIMIT * 20 // len(payload)):  # 20 times the limit, unless refused sooner
            yield f"{len(payload):x}\r\n".encode() + payload + b"\r\n"

    answer, sent = _raw_request(live_url, head, chunks())
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"payload_too_large" in answer or b"content-length" in answer.lower()
    # Refused near the limit, long before the 20x body was sent.
    assert sent < LIMIT * 4
    assert httpx.get(f"{live_url}/healthz").status_code == 200


def test_concurrent_identical_uploads_make_one_record(live_url: str, gateway: dict[str, str]) -> None:
    data = samples.nih_png().read_bytes()

    def post(_: int) -> httpx.Response:
        return httpx.post(
            f"{live_url}/api/v1/images", files={"file": ("x.png", data)}, headers=gateway, timeout=30
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(8)))
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.status_code == 201 for r in responses) == 1


def test_concurrent_different_uploads_all_succeed(live_url: str, gateway: dict[str, str]) -> None:
    files = sorted((samples.datasets_dir() / "cxr-nih-adult" / "images" / "normal").glob("*.png"))[:8]

    def post(index: int) -> httpx.Response:
        return httpx.post(
            f"{live_url}/api/v1/images",
            files={"file": ("x.png", files[index].read_bytes())},
            headers=gateway,
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(len(files))))
    assert [r.status_code for r in responses] == [201] * len(files)
    assert len({r.json()["id"] for r in responses}) == len(files)
