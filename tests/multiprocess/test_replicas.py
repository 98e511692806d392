"""Two API replicas and two training workers as separate processes on one PostgreSQL database.

`imaging-ai serve` twice (two ports) and `imaging-ai worker` twice, sharing the database and the object
store (a SeaweedFS bucket; each process has a data directory of its own, so nothing passes through
files; without `weed` installed, or with IMAGING_AI_REPLICA_STORE=local, one shared data directory).
Through both replicas at once: predictions with an API key and clinicians' verdicts; training jobs
started from both; a promotion through replica A answered by replica B on its very next request, and a
rollback through B answered by A; a session made at A valid at B; failed sign-ins counted across both;
and a worker SIGKILLed mid-job whose job another worker recovers (marked failed, the serving version
untouched). Nothing may be lost: every request answers, every verdict is a row, every job has one
worker and one start.

N predictions: `IMAGING_AI_REPLICA_PREDICTIONS` (default 1000).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.api.security import CSRF_HEADER
from imaging_ai.persistence.database import create_db_engine, create_session_factory
from imaging_ai.persistence.models import Feedback, ModelVersion, Prediction, TrainingJob
from imaging_ai.settings import PROJECT_ROOT, Settings
from imaging_ai.storage.model_store import list_versions, write_version
from tests.accounts import PASSWORD, create_api_key, create_user
from tests.conftest import datasets_dir
from tests.live_server import free_port
from tests.storage.seaweed import seaweed_server, weed_binary

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CXR = "chest-xray-pneumonia"
V1, V2 = f"{CXR}.v1", f"{CXR}.v2"
STORE = os.environ.get("IMAGING_AI_REPLICA_STORE") or ("s3" if weed_binary() else "local")
PREDICTIONS = int(os.environ.get("IMAGING_AI_REPLICA_PREDICTIONS", "1000"))
VERDICTS = 200
CLIENT_THREADS = 8
CLI = str(Path(sys.executable).parent / "imaging-ai")


@dataclass
class Cluster:
    env: dict[str, str]
    settings: Settings
    factory: sessionmaker[Session]
    data_dir: Callable[[str], Path]
    replicas: list[str] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_logs: list[Path] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, name: str, log: Path) -> None:
        process = subprocess.Popen(
            [CLI, "worker"],
            env={**self.env, "IMAGING_AI_DATA_DIR": str(self.data_dir(name))},
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        self.workers.append(process)
        self.worker_logs.append(log)
        self.processes.append(process)


def _model_store_with_second_version(root: Path) -> Path:
    """A copy of the shipped model store (baked into every process's image in a deployment) with v2 of
    the chest X-ray task beside v1: the shipped weights, another temperature (so promotion is
    observable in every answer's `model_version`)."""
    store = root / "model_store"
    shutil.copytree(PROJECT_ROOT / "model_store", store)
    [shipped] = [v for v in list_versions(store) if v.task == CXR]
    card = {**shipped.card, "parent_version": shipped.version}
    card["calibration"] = {**card["calibration"], "temperature": 2.0}
    write_version(
        store,
        version=V2,
        task=CXR,
        weights=shipped.read_verified_weights(),
        card=card,
        preprocessing=shipped.preprocessing,
    )
    return store


@contextmanager
def _file_store(root: Path) -> Iterator[tuple[dict[str, str], Callable[[str], Path]]]:
    """Where the processes keep images, heatmaps and trained versions: a SeaweedFS bucket (each process
    with a data directory of its own, so nothing is shared through files), or, without `weed`
    (or with IMAGING_AI_REPLICA_STORE=local), one data directory shared by all."""
    if STORE == "s3":
        (root / "seaweed").mkdir()
        with seaweed_server(root / "seaweed") as server:
            yield (
                {
                    "IMAGING_AI_OBJECT_STORE": "s3",
                    "IMAGING_AI_S3_ENDPOINT_URL": server.endpoint_url,
                    "IMAGING_AI_S3_BUCKET": "replicas",
                    "IMAGING_AI_S3_PREFIX": "test",
                    "IMAGING_AI_S3_REGION": server.region,
                    **server.environment(),
                },
                lambda name: root / f"data-{name}",
            )
    else:
        yield {}, lambda _name: root / "data"


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"replica at {base_url} exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} was not ready within {timeout} s")


@pytest.fixture
def cluster(make_postgres_database: Callable[[], str], tmp_path: Path) -> Iterator[Cluster]:
    url = make_postgres_database()
    with _file_store(tmp_path) as (store_env, data_dir):
        env = {
            **os.environ,
            **store_env,
            "IMAGING_AI_DATABASE_URL": url,
            "IMAGING_AI_MODEL_STORE_DIR": str(_model_store_with_second_version(tmp_path)),
            "IMAGING_AI_PSEUDONYM_KEY": "replica-test-pseudonym-key",
            "IMAGING_AI_COOKIE_SECURE": "false",
            "IMAGING_AI_AUTO_TRAIN_AFTER": "0",  # the test starts the jobs itself
            "IMAGING_AI_BLIND_READ_FRACTION": "0",
            "IMAGING_AI_WORKER_POLL_SECONDS": "0.5",
            "IMAGING_AI_LOG_LEVEL": "INFO",
            "IMAGING_AI_DATASETS_DIR": str(datasets_dir()),
        }
        setup_env = {**env, "IMAGING_AI_DATA_DIR": str(data_dir("setup"))}
        subprocess.run([CLI, "migrate"], env=setup_env, check=True, capture_output=True)
        # Registered once before the replicas start, so their start-up mirroring has nothing to insert.
        subprocess.run([CLI, "sync-models"], env=setup_env, check=True, capture_output=True)
        engine = create_db_engine(url)
        cluster = Cluster(env, Settings(database_url=url), create_session_factory(engine), data_dir)
        try:
            for name in ("a", "b"):
                port = free_port()
                process = subprocess.Popen(
                    [CLI, "serve", "--port", str(port)],
                    env={**env, "IMAGING_AI_DATA_DIR": str(data_dir(f"replica-{name}"))},
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"replica-{name}.log").open("wb"),
                )
                cluster.processes.append(process)
                cluster.replicas.append(f"http://127.0.0.1:{port}")
            for n in range(2):
                cluster.start_worker(f"worker-{n}", tmp_path / f"worker-{n}.log")
            for base_url, process in zip(cluster.replicas, cluster.processes, strict=False):
                _wait_ready(base_url, process, timeout=120)
            yield cluster
        finally:
            for process in cluster.processes:
                if process.poll() is None:
                    process.terminate()
            for process in cluster.processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            engine.dispose()


# --- the clients ---------------------------------------------------------------------------------------


def _cases() -> list[dict[str, str]]:
    root = datasets_dir() / "cxr-nih-adult"
    rows = list(csv.DictReader((root / "manifest.csv").open()))
    normal = [r for r in rows if r["label"] == "normal"]
    pneumonia = [r for r in rows if r["label"] == "pneumonia"]
    mixed = [row for pair in zip(normal, pneumonia, strict=False) for row in pair]
    for row in mixed:
        row["bytes_path"] = str(root / row["path"])
    return mixed


def _sign_in(base_url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=120)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers[CSRF_HEADER] = response.json()["csrf_token"]
    return client


def _same_session_at(client: httpx.Client, base_url: str) -> httpx.Client:
    """A client at another replica presenting the cookie and CSRF token of `client`'s session."""
    other = httpx.Client(base_url=base_url, timeout=120, cookies=client.cookies)
    other.headers[CSRF_HEADER] = client.headers[CSRF_HEADER]
    return other


@dataclass
class Outcomes:
    predictions: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


def _predict(client: httpx.Client, row: dict[str, str], out: Outcomes) -> dict[str, Any] | None:
    data = Path(row["bytes_path"]).read_bytes()
    try:
        response = client.post(
            "/api/v1/predictions",
            files={"file": (Path(row["bytes_path"]).name, data)},
            data={"task": CXR, "site": "nih", "patient_id": row["patient_id"]},
        )
    except httpx.HTTPError as exc:
        out.fail(f"prediction at {client.base_url}: {type(exc).__name__}")
        return None
    if response.status_code != 201:
        out.fail(f"prediction at {client.base_url}: {response.status_code} {response.text[:200]}")
        return None
    body: dict[str, Any] = response.json()
    with out.lock:
        out.predictions.append(body["id"])
    return body


def _verdict(client: httpx.Client, prediction: dict[str, Any], label: str, out: Outcomes) -> None:
    body = (
        {"verdict": "agree"}
        if prediction["predicted_label"] == label
        else {"verdict": "disagree", "label": label}
    )
    try:
        response = client.post(f"/api/v1/predictions/{prediction['id']}/feedback", json=body)
    except httpx.HTTPError as exc:
        out.fail(f"verdict at {client.base_url}: {type(exc).__name__}")
        return
    if response.status_code != 201:
        out.fail(f"verdict at {client.base_url}: {response.status_code} {response.text[:200]}")
        return
    with out.lock:
        out.verdicts.append(prediction["id"])


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/training-jobs/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _start_job(client: httpx.Client, site: str, **parameters: int) -> str:
    response = client.post(
        "/api/v1/training-jobs", json={"task": CXR, "site": site, "parameters": parameters}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _served(client: httpx.Client, row: dict[str, str]) -> str:
    out = Outcomes()
    body = _predict(client, row, out)
    assert body is not None, out.failures
    return str(body["model_version"])


def _starts(logs: list[Path]) -> Counter[str]:
    """How many times each job was started, over every worker's log."""
    starts: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "training job started":
                starts[str(entry["job_id"])] += 1
    return starts


# --- the test ------------------------------------------------------------------------------------------


def test_two_replicas_and_two_workers_agree_and_lose_nothing(cluster: Cluster) -> None:
    a_url, b_url = cluster.replicas
    factory = cluster.factory
    create_user(factory, "dr.both", ("clinician", "admin"))
    create_user(factory, "dr.target", ("clinician",))
    key = create_api_key(factory, "pacs-gateway", ("predict", "read"))
    keyed = [
        httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {key}"})
        for url in (a_url, b_url)
    ]

    # Sessions live in the database: signed in at A, the same cookie works at B (and signs out there).
    admin_a = _sign_in(a_url, "dr.both")
    admin_b = _same_session_at(admin_a, b_url)
    me_at_b = admin_b.get("/api/v1/auth/me")
    assert me_at_b.status_code == 200 and me_at_b.json()["user"]["username"] == "dr.both", me_at_b.text
    clinicians = [admin_a, admin_b]

    # Failed sign-ins are counted across both replicas: alternate wrong passwords until the lock.
    limit = cluster.settings.login_max_failures_per_account
    for attempt in range(limit):
        response = httpx.post(
            f"{(a_url, b_url)[attempt % 2]}/api/v1/auth/login",
            json={"username": "dr.target", "password": "not the password at all"},
        )
        assert response.status_code == 401, response.text
    locked = httpx.post(f"{b_url}/api/v1/auth/login", json={"username": "dr.target", "password": PASSWORD})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "account_locked", locked.text

    cases = _cases()
    rng = random.Random(17)
    out = Outcomes()

    def case(n: int, with_verdict: bool) -> None:
        row = cases[n % len(cases)]
        prediction = _predict(keyed[n % 2], row, out)
        if prediction is not None and with_verdict:
            _verdict(clinicians[rng.randrange(2)], prediction, row["label"], out)

    # 1. The first cases with their verdicts (what the long training job will learn from), both replicas.
    first = min(PREDICTIONS, VERDICTS + 40)
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(lambda n: case(n, n < VERDICTS), range(first)))
    assert out.failures == []

    # 2. A long job (started at A): a worker claims it; SIGKILL that worker mid-job.
    long_job = _start_job(admin_a, "nih", epochs=50)
    deadline = time.monotonic() + 60
    while (running := _job(admin_b, long_job))["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running["status"] == "running", running
    with factory() as session:  # the API does not show which worker holds a job; the row does
        holder = session.get_one(TrainingJob, uuid.UUID(long_job)).worker_id
    pid = int(str(holder).split(":")[1])
    [victim] = [w for w in cluster.workers if w.pid == pid]
    time.sleep(1.0)  # well inside the job: loading its cases
    assert _job(admin_a, long_job)["status"] == "running"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = time.monotonic()

    # 3. The rest of the load on both replicas, with jobs started from both, a promotion through A and a
    #    rollback through B, while the surviving worker notices the dead one.
    quick_jobs = [_start_job(admin_a, "north"), _start_job(admin_b, "south")]
    swaps: list[tuple[str, str]] = []

    def promote_and_roll_back() -> None:
        time.sleep(2.0)
        row = cases[0]
        promoted = admin_a.post(f"/api/v1/models/{V2}/promote", json={"reason": "replica test promotion"})
        assert promoted.status_code == 200, promoted.text
        swaps.append(("after promotion at A, B serves", _served(keyed[1], row)))
        time.sleep(2.0)
        rolled = admin_b.post(f"/api/v1/tasks/{CXR}/rollback", json={"reason": "replica test rollback"})
        assert rolled.status_code == 200, rolled.text
        swaps.append(("after rollback at B, A serves", _served(keyed[0], row)))

    swapper = threading.Thread(target=promote_and_roll_back)
    swapper.start()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(lambda n: case(n, False), range(first, PREDICTIONS)))
    swapper.join(timeout=120)
    assert swaps == [("after promotion at A, B serves", V2), ("after rollback at B, A serves", V1)]

    # 4. The killed worker's job is recovered by the survivor (after its heartbeat went stale).
    deadline = killed_at + 90
    while (recovered := _job(admin_a, long_job))["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert recovered["status"] == "failed", recovered
    assert "worker stopped" in recovered["error"], recovered
    for job_id in quick_jobs:
        deadline = time.monotonic() + 60
        while _job(admin_b, job_id)["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)

    # Nothing lost, nothing failed.
    assert out.failures == []
    assert len(out.predictions) == PREDICTIONS
    assert len(out.verdicts) == min(VERDICTS, PREDICTIONS)
    ids = [uuid.UUID(p) for p in out.predictions]
    verdict_ids = [uuid.UUID(p) for p in out.verdicts]
    with factory() as session:
        stored = session.scalar(select(func.count()).select_from(Prediction).where(Prediction.id.in_(ids)))
        verdict_rows = session.scalar(
            select(func.count()).select_from(Feedback).where(Feedback.prediction_id.in_(verdict_ids))
        )
        jobs = {str(job.id): job for job in session.scalars(select(TrainingJob)).all()}
        versions = {
            v.id: v.status for v in session.scalars(select(ModelVersion).where(ModelVersion.task == CXR))
        }
    assert stored == PREDICTIONS
    assert verdict_rows == len(verdict_ids)

    # Every job ran once: one worker, one start; the killed one failed, the serving version untouched.
    assert set(jobs) == {long_job, *quick_jobs}
    starts = _starts(cluster.worker_logs)
    for job_id, job in jobs.items():
        assert job.worker_id is not None and job.started_at is not None, job_id
        assert job.status in ("failed", "succeeded", "cancelled"), (job_id, job.status)
        assert starts[job_id] == 1, (job_id, starts)
    assert jobs[long_job].worker_id == holder
    [survivor] = [w for w in cluster.workers if w is not victim]
    assert {int(str(jobs[j].worker_id).split(":")[1]) for j in quick_jobs} == {survivor.pid}
    assert versions == {V1: "active", V2: "retired"}  # no candidate of the killed job was registered
    assert _served(keyed[1], cases[0]) == V1
    for client in (*keyed, admin_a, admin_b):
        client.close()
