"""The steps of the README's run command (`scripts/run.sh` after installing), on a data folder that does
not exist yet, as on a fresh clone: migrate, register models, serve; then the first things a newcomer does."""

from __future__ import annotations

import json
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
        "IMAGING_AI_COOKIE_SECURE": "false",  # as scripts/run.sh sets it for http://127.0.0.1
        # A blind read (drawn at random) hides the heatmap from the administrator; tests/api/test_autonomy.py
        # covers that, so here every case is an ordinary one and the heatmap check below is deterministic.
        "IMAGING_AI_BLIND_READ_FRACTION": "0",
    }
    env.pop("IMAGING_AI_DATABASE_URL", None)

    def cli(*command: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [CLI, *command], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    cli("migrate")
    cli("sync-models")
    # The README's account steps: the first administrator, a hospital system and its API key.
    cli("create-admin", "--username", "admin", "--password-stdin", stdin="correct horse battery staple\n")
    cli("users", "create", "--username", "pacs-gateway", "--service")
    key = json.loads(
        cli("api-keys", "create", "--user", "pacs-gateway", "--name", "PACS", "--scope", "predict")
    )
    gateway = {"Authorization": f"Bearer {key['key']}"}
    server = subprocess.Popen([CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/readyz", timeout=60)
        assert "Imaging AI" in httpx.get(f"{base}/").text
        assert httpx.get(f"{base}/docs").status_code == 200
        files = {"file": ("c.png", samples.nih_png().read_bytes())}
        assert httpx.post(f"{base}/api/v1/images", files=files).status_code == 401
        upload = httpx.post(f"{base}/api/v1/images", files=files, headers=gateway)
        assert upload.status_code == 201, upload.text
        prediction = httpx.post(
            f"{base}/api/v1/predictions",
            data={"task": "chest-xray-pneumonia", "image_id": upload.json()["id"]},
            headers=gateway,
        )
        assert prediction.status_code == 201, prediction.text
        # The administrator signs in to the web app's API and sees the heatmap (the key may only predict).
        with httpx.Client(base_url=base, timeout=30) as browser:
            login = browser.post(
                "/api/v1/auth/login", json={"username": "admin", "password": "correct horse battery staple"}
            )
            assert login.status_code == 200, login.text
            heatmap = browser.get(f"/api/v1/predictions/{prediction.json()['id']}/heatmap")
        assert heatmap.status_code == 200 and heatmap.headers["content-type"] == "image/png"
        denied = httpx.get(f"{base}/api/v1/predictions/{prediction.json()['id']}/heatmap", headers=gateway)
        assert denied.status_code == 403
    finally:
        server.terminate()
        server.wait(timeout=30)
