"""Queries on training jobs, including the claim that lets several workers share one queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import TrainingJob
from imaging_ai.vocabulary import TrainingJobStatus


class TrainingJobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, job_id: uuid.UUID) -> TrainingJob | None:
        return self.session.get(TrainingJob, job_id)

    def add(self, job: TrainingJob) -> TrainingJob:
        self.session.add(job)
        self.session.flush()
        return job

    @staticmethod
    def _at(site: str | None) -> ColumnElement[bool]:
        return TrainingJob.site == site if site is not None else TrainingJob.site.is_(None)

    def open_job(self, task: str, site: str | None = None) -> TrainingJob | None:
        """A queued or running job of the task for the site (None: the every-site job), if any."""
        return self.session.scalars(
            select(TrainingJob).where(
                TrainingJob.task == task,
                self._at(site),
                TrainingJob.status.in_((TrainingJobStatus.queued, TrainingJobStatus.running)),
            )
        ).first()

    def latest(self, task: str, site: str | None = None) -> TrainingJob | None:
        return self.session.scalars(
            select(TrainingJob)
            .where(TrainingJob.task == task, self._at(site))
            .order_by(TrainingJob.created_at.desc())
            .limit(1)
        ).first()

    def looks(self, task: str, site: str | None) -> int:
        """Comparisons already made on the site's sequestered cases: finished jobs that judged a candidate."""
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(TrainingJob)
                .where(TrainingJob.task == task, self._at(site), TrainingJob.decision.is_not(None))
            )
            or 0
        )

    def page(self, *, task: str | None, status: str | None, limit: int, offset: int) -> Sequence[TrainingJob]:
        query = select(TrainingJob)
        if task is not None:
            query = query.where(TrainingJob.task == task)
        if status is not None:
            query = query.where(TrainingJob.status == status)
        return self.session.scalars(
            query.order_by(TrainingJob.created_at.desc()).limit(limit).offset(offset)
        ).all()

    def claim_next(self, worker_id: str, now: datetime) -> TrainingJob | None:
        """Claims the oldest queued job for this worker, or returns None.

        On PostgreSQL the oldest queued row not locked by another worker's claim is locked with
        `SELECT ... FOR UPDATE SKIP LOCKED` and marked running: concurrent workers take different jobs
        without waiting on each other, and the row lock is held until this transaction commits. SQLite
        has no row locks (one writer at a time): there the conditional UPDATE is the lock, so of two
        workers racing for one job only one changes it from `queued` (the other's WHERE no longer
        matches). Either way a job is claimed once.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            return self._claim_locked(worker_id, now)
        for job_id in self.session.scalars(
            select(TrainingJob.id)
            .where(TrainingJob.status == TrainingJobStatus.queued)
            .order_by(TrainingJob.created_at)
            .limit(5)
        ).all():
            if self._mark_running(job_id, worker_id, now):
                return self.session.get(TrainingJob, job_id, populate_existing=True)
        return None

    def _claim_locked(self, worker_id: str, now: datetime) -> TrainingJob | None:
        job_id = self.session.scalars(
            select(TrainingJob.id)
            .where(TrainingJob.status == TrainingJobStatus.queued)
            .order_by(TrainingJob.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        # The conditional UPDATE stays as a second guard (a row committed as running since the read).
        if job_id is None or not self._mark_running(job_id, worker_id, now):
            return None
        return self.session.get(TrainingJob, job_id, populate_existing=True)

    def _mark_running(self, job_id: uuid.UUID, worker_id: str, now: datetime) -> bool:
        claimed = self.session.execute(
            update(TrainingJob)
            .where(TrainingJob.id == job_id, TrainingJob.status == TrainingJobStatus.queued)
            .values(status=TrainingJobStatus.running, worker_id=worker_id, started_at=now, heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        self.session.flush()
        return True

    def update_fields(self, job_id: uuid.UUID, **values: Any) -> None:
        """Sets columns of one job without loading it (progress, heartbeats and outcomes from the worker)."""
        self.session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(**values))

    def running(self) -> Sequence[TrainingJob]:
        return self.session.scalars(
            select(TrainingJob).where(TrainingJob.status == TrainingJobStatus.running)
        ).all()

    def by_candidate(self, version_id: str) -> TrainingJob | None:
        """The job that trained a version (None for base versions)."""
        return self.session.scalars(
            select(TrainingJob).where(TrainingJob.candidate_version_id == version_id)
        ).first()

    def counts_by_status(self) -> dict[str, int]:
        rows = self.session.execute(
            select(TrainingJob.status, func.count()).group_by(TrainingJob.status)
        ).all()
        return {status: int(count) for status, count in rows}
