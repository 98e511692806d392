"""Queries on model version records."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import ModelVersion
from imaging_ai.vocabulary import ModelVersionStatus


class ModelVersionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, version: str) -> ModelVersion | None:
        return self.session.get(ModelVersion, version)

    def active(self, task: str) -> ModelVersion | None:
        return self.session.scalars(
            select(ModelVersion).where(
                ModelVersion.task == task, ModelVersion.status == ModelVersionStatus.active
            )
        ).first()

    def active_version_ids(self) -> dict[str, str]:
        rows = self.session.execute(
            select(ModelVersion.task, ModelVersion.id).where(ModelVersion.status == ModelVersionStatus.active)
        )
        return {task: version for task, version in rows}

    def ancestors(self, version: ModelVersion) -> list[ModelVersion]:
        """Parent, grandparent, ... up to the lineage's root (a base version); stops at a cycle."""
        found: list[ModelVersion] = []
        seen = {version.id}
        parent_id = version.parent_id
        while parent_id is not None and parent_id not in seen and (parent := self.get(parent_id)) is not None:
            found.append(parent)
            seen.add(parent.id)
            parent_id = parent.parent_id
        return found

    def for_task(self, task: str) -> Sequence[ModelVersion]:
        return self.session.scalars(
            select(ModelVersion).where(ModelVersion.task == task).order_by(ModelVersion.created_at)
        ).all()

    def all_ids(self) -> set[str]:
        return set(self.session.scalars(select(ModelVersion.id)).all())

    def add(self, version: ModelVersion) -> ModelVersion:
        self.session.add(version)
        self.session.flush()
        return version
