"""The web app in headless Chromium against the real API: the clinician's and the administrator's loop,
and a blind read.

Starts the app (API + built SPA) on a loopback port with SQLite in a temporary folder, creates an
administrator and a clinician with the CLI, and runs the Playwright Test spec `frontend/e2e/loop.spec.ts`
(driving Debian's Chromium; `frontend/playwright.config.ts`), with no case read blind; then, on a server
that reads every case blind (`blind_read_fraction=1.0`), `frontend/e2e/blind-read.spec.ts`. Each spec is a
serial run of named scenarios; a failure names the scenario (the list reporter's output is in the
assertion message). Screenshots land in `frontend/e2e/artifacts/` (the blind read's under `blind-read/`),
a failed scenario's trace and screenshot under `test-results/` there
(`cd frontend && npx playwright show-trace <its trace.zip>`).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imaging_ai.settings import PROJECT_ROOT, Settings
from tests.live_server import serve

FRONTEND = PROJECT_ROOT / "frontend"
PLAYWRIGHT = FRONTEND / "node_modules" / ".bin" / "playwright"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ADMIN = ("e2e.admin", "admin passphrase for the e2e run")
TASK = "chest-xray-pneumonia"
SITE = "e2e-ward"
BLIND_SITE = "e2e-blind"
ALERT = "Input drift at e2e-ward (seeded by the browser test): back to supervised."
CLINICIAN = ("e2e.clinician", "clinician passphrase for the e2e run")


def _require(condition: bool, message: str) -> None:
    # A missing piece fails loudly with the command that provides it; it never skips silently.
    if not condition:
        pytest.fail(message, pytrace=False)


def _images(datasets: Path) -> list[Path]:
    """One normal and one pneumonia adult chest X-ray from the NIH set, full-size (1024 px) where
    the set has its originals."""
    folder = datasets / "cxr-nih-adult"
    listing = folder / "originals_1024" / "list.csv"
    with (listing if listing.is_file() else folder / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    picked = [
        next(folder / row["path"] for row in rows if row["label"] == label)
        for label in ("normal", "pneumonia")
    ]
    for path in picked:
        _require(path.is_file(), f"dataset image missing: {path}")
    return picked


def _dicoms(datasets: Path) -> tuple[Path, Path]:
    """A chest CR (accepted for the chest X-ray task) and a CT (refused: `modality_mismatch`)."""
    folder = datasets / "dicom-samples"
    with (folder / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # The SIIM file is a real DICOM of an NIH image (the Fake_MONOHR1 one is deliberately mislabelled).
    chest = next(folder / r["path"] for r in rows if r["path"].startswith("cr_chest/siim"))
    ct = next(folder / r["path"] for r in rows if r["label"] == "CT" and r["path"].startswith("ct/"))
    return chest, ct


def _cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "IMAGING_AI_DATA_DIR": str(settings.data_dir),
        "IMAGING_AI_DATABASE_URL": str(settings.database_url),
        "IMAGING_AI_DATASETS_DIR": str(settings.datasets_dir),
        "IMAGING_AI_WORKER_POLL_SECONDS": "0.5",
    }


IMAGING_AI = str(Path(sys.executable).with_name("imaging-ai"))


def _cli(settings: Settings, *args: str, stdin: str) -> None:
    command = [IMAGING_AI, *args]
    result = subprocess.run(
        command, input=stdin, env=_cli_env(settings), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def _require_browser() -> None:
    _require(
        (FRONTEND / "dist" / "index.html").is_file(),
        "frontend/dist is not built: run `scripts/frontend.sh build` (scripts/test.sh does it).",
    )
    _require(
        PLAYWRIGHT.is_file(),
        "frontend dependencies are not installed: run `scripts/frontend.sh install`.",
    )
    _require(
        CHROMIUM.is_file(),
        f"{CHROMIUM} not found: run `scripts/frontend.sh chromium` (apt-get install chromium).",
    )
    _require(shutil.which("node") is not None, "node is not on PATH")


def _server_settings(tmp_path: Path, datasets: Path, *, blind_read_fraction: float) -> Settings:
    """A migrated SQLite database in `tmp_path`, with the administrator and the clinician created."""
    from imaging_ai.persistence import migrations

    database_url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    migrations.upgrade(database_url)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        pseudonym_key="e2e-pseudonym-key",
        datasets_dir=datasets,
        frontend_dir=FRONTEND,
        cookie_secure=False,  # plain http on the loopback
        blind_read_fraction=blind_read_fraction,
    )
    _cli(
        settings,
        "create-admin",
        "--username",
        ADMIN[0],
        "--display-name",
        "Dr. Admin E2E",
        "--password-stdin",
        stdin=ADMIN[1] + "\n",
    )
    _cli(
        settings,
        "users",
        "create",
        "--username",
        CLINICIAN[0],
        "--display-name",
        "Dr. Clinician E2E",
        "--role",
        "clinician",
        "--password-stdin",
        stdin=CLINICIAN[1] + "\n",
    )
    return settings


@pytest.mark.slow
def test_clinician_and_admin_loop_in_the_browser(tmp_path: Path, datasets: Path) -> None:
    _require_browser()
    images = _images(datasets)
    chest_dicom, ct_dicom = _dicoms(datasets)
    # Every case is read with the answer in view here (a blind read answers only `read`, not `A`); the
    # blind read has its own test below.
    settings = _server_settings(tmp_path, datasets, blind_read_fraction=0.0)
    _seed_alert(str(settings.database_url))

    artifacts = Path(os.environ.get("E2E_ARTIFACTS_DIR", FRONTEND / "e2e" / "artifacts"))
    # One worker beside the server, as `make run` has: it takes the job the administrator starts.
    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [IMAGING_AI, "worker", "--max-jobs", "1"],
        env=_cli_env(settings),
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        result = _run_browser(settings, images, chest_dicom, ct_dicom, artifacts)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker_log.close()
    print(result.stdout)
    _assert_passed(
        result,
        f"the browser loop failed (screenshots in {artifacts}, traces in {artifacts / 'test-results'})",
        f"worker log (tail):\n{(tmp_path / 'worker.log').read_text()[-3000:]}",
    )


@pytest.mark.slow
def test_blind_read_in_the_browser(tmp_path: Path, datasets: Path) -> None:
    """Every case read blind: the case view shows the image only (no label, probabilities, confidence or
    heatmap, and no heatmap request) until the clinician's label is in, then reveals the answer."""
    _require_browser()
    settings = _server_settings(tmp_path, datasets, blind_read_fraction=1.0)
    artifacts = Path(os.environ.get("E2E_ARTIFACTS_DIR", FRONTEND / "e2e" / "artifacts")) / "blind-read"
    result = _run_spec(
        settings,
        "e2e/blind-read.spec.ts",
        {"IMAGE_PATH": str(_images(datasets)[1]), "SITE": BLIND_SITE, "ARTIFACTS_DIR": str(artifacts)},
    )
    print(result.stdout)
    _assert_passed(
        result, f"the blind read failed (screenshots in {artifacts}, traces in {artifacts / 'test-results'})"
    )


def _assert_passed(result: subprocess.CompletedProcess[str], failure: str, *more: str) -> None:
    """Every scenario of the spec ran and passed. On a failure the message carries the list reporter's
    output: the failed scenario by name, its error and where its trace is, and the ones it left unrun."""
    output = "\n".join([result.stdout, result.stderr, *more])
    assert result.returncode == 0, f"{failure}:\n{output}"
    summary = re.search(r"^\s*(\d+) passed\b", result.stdout, re.MULTILINE)
    assert summary is not None and int(summary.group(1)) > 0, f"no scenario passed:\n{output}"
    # The list reporter names what did not pass; a clean run has only the passed count.
    for outcome in ("failed", "flaky", "skipped", "did not run", "interrupted"):
        assert not re.search(rf"^\s*\d+ {outcome}\b", result.stdout, re.MULTILINE), f"{failure}:\n{output}"


def _seed_alert(database_url: str) -> None:
    """An automatic fall-back, as the drift check makes it, so that the alert banner has something to show
    (the run is far too short to earn a level and lose it)."""
    from imaging_ai.persistence.autonomy import AutonomyRepository
    from imaging_ai.persistence.database import create_db_engine, create_session_factory
    from imaging_ai.persistence.unit_of_work import transaction
    from imaging_ai.services.trust.autonomy import fall_back

    engine = create_db_engine(database_url)
    try:
        with transaction(create_session_factory(engine)) as session:
            fall_back(session, TASK, SITE, "input_drift", ALERT, {"statistic": 9.1, "threshold": 7.8})
            # A site without a level of its own only gets the alert: it keeps the server's blind reads.
            assert AutonomyRepository(session).policy(TASK, SITE) is None
    finally:
        engine.dispose()


def _run_browser(
    settings: Settings, images: list[Path], chest_dicom: Path, ct_dicom: Path, artifacts: Path
) -> subprocess.CompletedProcess[str]:
    return _run_spec(
        settings,
        "e2e/loop.spec.ts",
        {
            "IMAGE_PATH": str(images[0]),
            "IMAGE_PATH_2": str(images[1]),
            "DICOM_PATH": str(chest_dicom),
            "MISMATCH_PATH": str(ct_dicom),
            "MISMATCH_CODE": "modality_mismatch",
            "WORKER": "1",
            "SITE": SITE,
            "ALERT_MESSAGE": ALERT,
            "ARTIFACTS_DIR": str(artifacts),
        },
    )


def _run_spec(settings: Settings, spec: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Serves the app with `settings` and runs a Playwright Test spec of `frontend/` against it, its
    traces and failure screenshots under `test-results/` in the spec's ARTIFACTS_DIR."""
    with serve(settings) as base_url:
        env = {
            **os.environ,
            "BASE_URL": base_url,
            "ADMIN_USER": ADMIN[0],
            "ADMIN_PASSWORD": ADMIN[1],
            "CLINICIAN_USER": CLINICIAN[0],
            "CLINICIAN_PASSWORD": CLINICIAN[1],
            "TASK": TASK,
            "CHROMIUM_PATH": str(CHROMIUM),
            "FORCE_COLOR": "0",  # plain text in pytest's report
            **extra,
        }
        output = Path(env["ARTIFACTS_DIR"]) / "test-results"
        return subprocess.run(
            [str(PLAYWRIGHT), "test", spec, "--config", "playwright.config.ts", "--output", str(output)],
            cwd=FRONTEND,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
