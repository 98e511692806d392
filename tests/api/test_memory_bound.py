"""Issue #13: the server's peak memory under decompression bombs and large images sent at once.

The server runs in its own process (`imaging-ai serve`, SQLite, default settings: 40-megapixel limit,
2 concurrent decodes), so its peak resident set (VmHWM) is its own. Before the fix three 6300 x 6300
PNGs at once took 2.47 GB and a 3 KB DICOM bomb 1.22 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.imaging import bombs
from tests.live_server import free_port, wait_until_answering

CLI = str(Path(sys.executable).parent / "imaging-ai")

GROWTH_BOUND = 1_600_000_000
"""Bytes the server may grow over its idle resident set during the burst below. Measured: 1.18 GB
(two decode slots each holding a 6300 x 6300 decode at about 12 bytes a pixel with its rendition,
plus full-size renders waiting their turn); the code before issue #13 grew 2.33 GB on the same
burst. The margin absorbs allocator slack."""


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_bombs_and_large_images_at_once_stay_under_the_memory_bound(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "IMAGING_AI_DATA_DIR": str(tmp_path / "var"),
        "IMAGING_AI_PORT": str(port),
        "IMAGING_AI_LOG_LEVEL": "WARNING",
        "IMAGING_AI_PSEUDONYM_KEY": "memory-test-key",
    }
    env.pop("IMAGING_AI_DATABASE_URL", None)
    env.pop("IMAGING_AI_MAX_CONCURRENT_DECODES", None)
    env.pop("IMAGING_AI_MAX_IMAGE_PIXELS", None)

    def cli(*command: str) -> str:
        result = subprocess.run(
            [CLI, *command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    cli("migrate")
    cli("users", "create", "--username", "pacs-gateway", "--service")
    key = json.loads(
        cli(
            "api-keys",
            "create",
            "--user",
            "pacs-gateway",
            "--name",
            "PACS",
            "--scope",
            "predict",
            "--scope",
            "read",
        )
    )["key"]
    headers = {"Authorization": f"Bearer {key}"}
    server = subprocess.Popen([CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/readyz", timeout=60)

        def upload(data: bytes) -> httpx.Response:
            return httpx.post(
                f"{base}/api/v1/images", files={"file": ("f", data)}, headers=headers, timeout=300
            )

        def render(image_id: str, size: int | None) -> httpx.Response:
            params = {"size": size} if size else {}
            return httpx.get(
                f"{base}/api/v1/images/{image_id}/render", params=params, headers=headers, timeout=300
            )

        # Warm up: libraries loaded, one large image stored to render later.
        stored = upload(bombs.large_png(variant=0))
        assert stored.status_code == 201, stored.text
        image_id = stored.json()["id"]
        assert render(image_id, 2048).status_code == 200
        idle = _status_bytes(server.pid, "VmRSS")

        with ThreadPoolExecutor(10) as pool:
            uploads = [pool.submit(upload, bombs.large_png(variant=n)) for n in (1, 2, 3)]
            refused = [
                pool.submit(upload, make())
                for make in (
                    bombs.dicom_j2k_bomb,
                    bombs.dicom_jpeg_bomb,
                    bombs.j2k_tile_bomb,
                    bombs.dicom_j2k_bomb,
                )
            ]
            renders = [pool.submit(render, image_id, size) for size in (None, None, 2048)]
            assert [f.result().status_code for f in uploads] == [201, 201, 201]
            assert [f.result().json()["error"]["code"] for f in refused] == [
                "image_too_large",
                "image_too_large",
                "too_many_tiles",
                "image_too_large",
            ]
            assert [f.result().status_code for f in renders] == [200, 200, 200]
        peak = _status_bytes(server.pid, "VmHWM")
        growth = peak - idle
        print(f"idle RSS {idle / 1e6:.0f} MB, peak {peak / 1e6:.0f} MB, growth {growth / 1e6:.0f} MB")
        assert growth < GROWTH_BOUND, f"the server grew by {growth / 1e6:.0f} MB"
    finally:
        server.terminate()
        server.wait(timeout=30)
