"""The steps of the README's run command (`scripts/run.sh` after installing), on a data folder that does
not exist yet, as on a fresh clone: migrate, register models, serve; then the first things a newcomer does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests import samples
from tests.live_server import free_port, wait_until_answering

CLI = str(Path(sys.executable).parent / "imaging-ai")


def test_fresh_data_folder_migrates_serves_and_predicts(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "IMAGING_AI_DATA_DIR": str(tmp_path / "not-yet" / "var"),
        "IMAGING_AI_PORT": str(port),
        "IMAGING_AI_LOG_LEVEL": "WARNING",
    }
    env.pop("IMAGING_AI_DATABASE_URL", None)
    for command in (["migrate"], ["sync-models"]):
        result = subprocess.run(
            [CLI, *command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
    server = subprocess.Popen([CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/readyz", timeout=60)
        assert "Imaging AI" in httpx.get(f"{base}/").text
        assert httpx.get(f"{base}/docs").status_code == 200
        upload = httpx.post(
            f"{base}/api/v1/images", files={"file": ("c.png", samples.nih_png().read_bytes())}
        )
        assert upload.status_code == 201, upload.text
        prediction = httpx.post(
            f"{base}/api/v1/predictions",
            data={"task": "chest-xray-pneumonia", "image_id": upload.json()["id"]},
        )
        assert prediction.status_code == 201, prediction.text
        heatmap = httpx.get(f"{base}/api/v1/predictions/{prediction.json()['id']}/heatmap", timeout=30)
        assert heatmap.status_code == 200 and heatmap.headers["content-type"] == "image/png"
    finally:
        server.terminate()
        server.wait(timeout=30)
