"""The training job queue: start (by request or automatically), list, cancel.

Jobs keep all their state in the database; the worker (`imaging-ai worker`, another process) claims
and runs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.ml.tasks import get_task
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.cases import verified_cases
from imaging_ai.persistence.models import TrainingJob
from imaging_ai.persistence.training_jobs import TrainingJobRepository
from imaging_ai.services.accounts.identity import Actor, SystemActor
from imaging_ai.services.training.case_split import is_sequestered
from imaging_ai.vocabulary import TrainingJobStatus, TrainingTrigger


class JobConflictError(DomainError):
    status_code = 409
    code = "job_conflict"


class TrainingJobService:
    def __init__(self, session: Session, *, auto_train_after: int) -> None:
        self.session = session
        self.jobs = TrainingJobRepository(session)
        self.auto_train_after = auto_train_after

    def start(
        self,
        task: str,
        *,
        parameters: dict[str, Any],
        requested_by: Actor,
        trigger: str = TrainingTrigger.manual,
        site: str | None = None,
    ) -> TrainingJob:
        get_task(task)
        open_job = self.jobs.open_job(task, site)
        if open_job is not None:
            where = f" at site {site}" if site else " for every site"
            raise JobConflictError(
                f"Task {task} already has a {open_job.status} training job{where}.",
                details={"job_id": str(open_job.id), "status": open_job.status},
            )
        job = self.jobs.add(
            TrainingJob(
                id=uuid.uuid4(),
                task=task,
                site=site,
                status=TrainingJobStatus.queued,
                trigger=trigger,
                requested_by=requested_by.username,
                parameters=parameters,
                progress={"stage": "queued"},
            )
        )
        self._audit(requested_by, "training.start", job, {"task": task, "site": site, "trigger": trigger})
        return job

    def get(self, job_id: uuid.UUID) -> TrainingJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError("No training job with this id.", details={"job_id": str(job_id)})
        return job

    def page(self, *, task: str | None, status: str | None, limit: int, offset: int) -> Sequence[TrainingJob]:
        if task is not None:
            get_task(task)
        return self.jobs.page(task=task, status=status, limit=limit, offset=offset)

    def cancel(self, job_id: uuid.UUID, *, actor: Actor) -> TrainingJob:
        job = self.get(job_id)
        if job.status == TrainingJobStatus.queued:
            job.status = TrainingJobStatus.cancelled
            job.progress = {**job.progress, "stage": "cancelled"}
        elif job.status == TrainingJobStatus.running:
            job.cancel_requested = True  # the worker stops at its next check and cleans up
        else:
            raise JobConflictError(f"The job has already {job.status}.", details={"status": job.status})
        self.session.flush()
        self._audit(actor, "training.cancel", job, {"task": job.task, "site": job.site})
        return job

    def new_training_cases_since_last_job(self, task: str, site: str | None) -> int:
        """New verified training cases of the site (of every site when None) since its last job."""
        last = self.jobs.latest(task, site)
        since = last.created_at if last is not None else None
        return sum(
            1
            for case in verified_cases(self.session, task)
            if not is_sequestered(case)
            and (site is None or case.site == site)
            and (since is None or case.verdict_at > since)
        )

    def maybe_start_automatically(self, task: str, site: str | None = None) -> TrainingJob | None:
        """Queues a job for the verdict's site when enough of its new verified training cases have
        gathered and none is open there (verdicts without a site train a candidate for the default)."""
        if self.auto_train_after <= 0 or self.jobs.open_job(task, site) is not None:
            return None
        if self.new_training_cases_since_last_job(task, site) < self.auto_train_after:
            return None
        return self.start(
            task,
            parameters={},
            requested_by=SystemActor("system"),
            trigger=TrainingTrigger.automatic,
            site=site,
        )

    def _audit(self, actor: Actor, action: str, job: TrainingJob, details: dict[str, Any]) -> None:
        record_audit_event(
            self.session,
            actor,
            action,
            target_type="training_job",
            target_id=str(job.id),
            details=details,
        )
