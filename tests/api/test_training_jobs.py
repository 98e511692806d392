"""Training jobs through the API and the worker: queue, claim by one of two workers, cancel, a killed
worker, the gate refusing a worse candidate, promotion of a better one, and rollback."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from imaging_ai.api.app import create_app
from imaging_ai.ml.comparison import Comparison
from imaging_ai.ml.tasks import TASKS
from imaging_ai.persistence.models import AuditEvent, TrainingJob
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.training.gate import GatePolicy, judge
from imaging_ai.services.training.worker import Worker
from imaging_ai.settings import Settings
from imaging_ai.storage.model_store import write_version
from tests.api.conftest import app_state, sign_in_admin
from tests.verified_cases import nih_rows, review

CXR = "chest-xray-pneumonia"


@pytest.fixture
def manual_client(settings: Settings) -> Iterator[TestClient]:
    """Automatic training off, so each test decides when jobs start."""
    manual = settings.model_copy(update={"auto_train_after": 0})
    with TestClient(create_app(manual), raise_server_exceptions=False) as client:
        sign_in_admin(client)
        yield client


def worker_for(client: TestClient, name: str = "w1") -> Worker:
    state = app_state(client)
    return Worker(state.session_factory, state.settings, worker_id=name)


def test_job_lifecycle_and_validation(manual_client: TestClient) -> None:
    client = manual_client
    created = client.post("/api/v1/training-jobs", json={"task": CXR})
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["status"] == "queued" and job["trigger"] == "manual"
    duplicate = client.post("/api/v1/training-jobs", json={"task": CXR})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "job_conflict"
    assert [j["id"] for j in client.get("/api/v1/training-jobs", params={"task": CXR}).json()] == [job["id"]]

    cancelled = client.post(f"/api/v1/training-jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    again = client.post(f"/api/v1/training-jobs/{job['id']}/cancel")
    assert again.status_code == 409

    for body, code in [
        ({"task": "nope"}, "unknown_task"),
        ({"task": CXR, "parameters": {"epochs": 0}}, "validation_error"),
        ({"task": CXR, "parameters": {"bogus": 1}}, "validation_error"),
    ]:
        response = client.post("/api/v1/training-jobs", json=body)
        assert response.json()["error"]["code"] == code, body
    assert client.get(f"/api/v1/training-jobs/{uuid.uuid4()}").status_code == 404


def test_two_workers_never_run_the_same_job(manual_client: TestClient) -> None:
    client = manual_client
    job = client.post("/api/v1/training-jobs", json={"task": CXR}).json()
    workers = [worker_for(client, "w1"), worker_for(client, "w2")]
    results: list[uuid.UUID | None] = []
    barrier = threading.Barrier(2)

    def run(worker: Worker) -> None:
        barrier.wait()
        results.append(worker.run_once())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(str(r) for r in results if r) == [job["id"]]
    assert results.count(None) == 1
    finished = client.get(f"/api/v1/training-jobs/{job['id']}").json()
    # No verified cases yet: the job refuses to train, says why, and nothing changes.
    assert finished["status"] == "failed"
    assert "Not enough verified training cases" in finished["error"]
    assert client.get(f"/api/v1/tasks/{CXR}").json()["active_version"] == f"{CXR}.v1"


def test_a_killed_worker_leaves_the_active_version_and_its_job_is_cleaned_up(
    manual_client: TestClient,
) -> None:
    client = manual_client
    state = app_state(client)
    job = client.post("/api/v1/training-jobs", json={"task": CXR}).json()
    job_id = uuid.UUID(job["id"])
    # The worker claimed the job, wrote part of a version, then died (its heartbeat stopped).
    with transaction(state.session_factory) as session:
        session.execute(
            update(TrainingJob)
            .where(TrainingJob.id == job_id)
            .values(
                status="running",
                worker_id="dead",
                started_at=datetime.now(UTC),
                heartbeat_at=datetime.now(UTC),
            )
        )
    models = state.settings.trained_models_dir / CXR
    models.mkdir(parents=True)
    (models / f".{CXR}.v2-abc").mkdir()
    (models / f".{CXR}.v2-abc" / "weights.pt").write_bytes(b"partial")
    write_version(
        state.settings.trained_models_dir, version=f"{CXR}.v3", task=CXR, weights=b"w",
        card={"training_job": str(job_id)}, preprocessing={},
    )  # fmt: skip
    survivor = worker_for(client, "w2")
    assert survivor.recover_abandoned_jobs() == []  # the heartbeat is fresh: someone may still be working
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert survivor.recover_abandoned_jobs(now=later) == [job_id]
    failed = client.get(f"/api/v1/training-jobs/{job['id']}").json()
    assert failed["status"] == "failed" and "worker stopped" in failed["error"]
    assert list(models.iterdir()) == []
    assert client.get(f"/api/v1/tasks/{CXR}").json()["active_version"] == f"{CXR}.v1"


def test_gate_refuses_a_worse_candidate_promotes_a_better_one_and_rollback_works(
    manual_client: TestClient,
) -> None:
    client = manual_client
    review(client, nih_rows(240))

    # A deliberately broken candidate: a learning rate a hundred times too high wrecks the weights.
    bad = client.post(
        "/api/v1/training-jobs", json={"task": CXR, "parameters": {"learning_rate": 0.1, "epochs": 2}}
    ).json()
    worker = worker_for(client)
    assert worker.run_once() == uuid.UUID(bad["id"])
    bad = client.get(f"/api/v1/training-jobs/{bad['id']}").json()
    assert bad["status"] == "succeeded", bad
    assert bad["decision"] == "held_back", bad["decision_reason"]
    assert bad["decision_reason"].startswith("held back")
    assert bad["training_set"]["counts"]["nih"]
    assert client.get(f"/api/v1/tasks/{CXR}").json()["active_version"] == f"{CXR}.v1"
    candidate = client.get(f"/api/v1/models/{bad['candidate_version']}").json()
    assert candidate["status"] == "candidate" and candidate["parent"] == f"{CXR}.v1"
    assert candidate["card"]["gate"]["decision"] == "held_back"

    good = client.post("/api/v1/training-jobs", json={"task": CXR}).json()
    assert worker.run_once() == uuid.UUID(good["id"])
    good = client.get(f"/api/v1/training-jobs/{good['id']}").json()
    assert good["status"] == "succeeded", good
    evaluation = good["evaluation"]
    assert evaluation["site"] is None and evaluation["target"]["cases"] == "sequestered: every site"
    assert evaluation["looks"] == 2  # the broken candidate was the first look at these cases
    # Whatever the decision, it is the one the rules give on the recorded comparisons.
    recorded = [_comparison(c) for c in evaluation["others"]]
    source = next(c for c in recorded if c.cases == "source gate half")
    again = judge(
        TASKS[CXR],
        site=None,
        target=_comparison(evaluation["target"]),
        others=[c for c in recorded if c is not source],
        source_gate=source,
        policy=GatePolicy(**evaluation["policy"]),
    )
    assert good["decision"] == ("promoted" if again.promote_as_default else "held_back"), good[
        "decision_reason"
    ]
    # Sequestered cases were never trained on.
    assert not set(good["training_set"]["case_ids"]) & set(_sequestered_ids(client, good))

    if good["decision"] == "promoted":
        assert client.get(f"/api/v1/tasks/{CXR}").json()["active_version"] == good["candidate_version"]
        rolled = client.post(f"/api/v1/tasks/{CXR}/rollback", json={"reason": "test rollback"})
        assert rolled.status_code == 200, rolled.text
        assert rolled.json()["id"] == f"{CXR}.v1"
        assert client.get(f"/api/v1/tasks/{CXR}").json()["active_version"] == f"{CXR}.v1"
    # An administrator can promote a held-back candidate by hand, with a reason; both are audited.
    promoted = client.post(
        f"/api/v1/models/{bad['candidate_version']}/promote",
        json={"reason": "override test"},
    )
    assert promoted.status_code == 200 and promoted.json()["status"] == "active"
    with app_state(client).session_factory() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "model.promote" in actions
    rolled_back = client.post(f"/api/v1/tasks/{CXR}/rollback", json={"reason": "undo override"})
    assert rolled_back.status_code == 200
    assert client.get(f"/api/v1/tasks/{CXR}").json()["active_version"] != bad["candidate_version"]


def _comparison(recorded: dict) -> Comparison:  # type: ignore[type-arg]
    ci = recorded["difference_ci95"]
    return Comparison(**{**recorded, "difference_ci95": tuple(ci) if ci else None})


def _sequestered_ids(client: TestClient, job: dict) -> list[str]:  # type: ignore[type-arg]
    from imaging_ai.persistence.cases import verified_cases
    from imaging_ai.services.training.case_split import split_cases

    with app_state(client).session_factory() as session:
        return [str(c.prediction_id) for c in split_cases(verified_cases(session, CXR)).sequestered]


def test_enough_new_verdicts_start_a_job_by_themselves(settings: Settings) -> None:
    automatic = settings.model_copy(update={"auto_train_after": 8})
    with TestClient(create_app(automatic), raise_server_exceptions=False) as client:
        sign_in_admin(client)
        review(client, nih_rows(6))
        assert client.get("/api/v1/training-jobs").json() == []
        review(client, nih_rows(20)[6:20])
        jobs = client.get("/api/v1/training-jobs").json()
        assert len(jobs) == 1 and jobs[0]["trigger"] == "automatic" and jobs[0]["status"] == "queued"


@pytest.mark.slow
def test_a_worker_that_lost_its_job_while_stalled_does_not_register_or_promote(
    manual_client: TestClient,
) -> None:
    """A worker paused past the stale-heartbeat limit has its job failed by another; when it resumes,
    its candidate is neither registered nor promoted and the job keeps the recovery's failure."""
    client = manual_client
    state = app_state(client)
    review(client, nih_rows(240))
    job = client.post("/api/v1/training-jobs", json={"task": CXR, "parameters": {"epochs": 1}}).json()
    job_id = uuid.UUID(job["id"])
    recovered = threading.Event()

    def fail_it_once_training_starts() -> None:
        # What `recover_abandoned_jobs` does to a job whose heartbeat went stale (here while it runs).
        for _ in range(600):
            with transaction(state.session_factory) as session:
                record = session.get(TrainingJob, job_id)
                if record is not None and record.status == "running" and record.progress.get("stage"):
                    session.execute(
                        update(TrainingJob)
                        .where(TrainingJob.id == job_id)
                        .values(status="failed", error="The worker stopped during the job (test).")
                    )
                    recovered.set()
                    return
            threading.Event().wait(0.1)

    watcher = threading.Thread(target=fail_it_once_training_starts)
    watcher.start()
    assert worker_for(client).run_once() == job_id
    watcher.join()
    assert recovered.is_set()
    after = client.get(f"/api/v1/training-jobs/{job['id']}").json()
    assert after["status"] == "failed" and after["error"] == "The worker stopped during the job (test)."
    assert after["candidate_version"] is None
    versions = client.get(f"/api/v1/tasks/{CXR}/models").json()
    assert [v["id"] for v in versions] == [f"{CXR}.v1"]
    assert client.get(f"/api/v1/tasks/{CXR}").json()["active_version"] == f"{CXR}.v1"
