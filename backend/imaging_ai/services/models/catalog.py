"""The database mirrors the model store: every stored version has a row, each task one active version.

Run at start-up (and by `imaging-ai sync-models`): it registers versions found in the stores,
activates a task's shipped base version when the task has no active version yet, and refuses
(marks `rejected`) any version whose weights do not match their SHA-256.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from imaging_ai.errors import NotFoundError
from imaging_ai.ml.tasks import TASKS, TaskSpec, get_task
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import ModelVersion, OperatingPoint
from imaging_ai.persistence.serving import ServingRepository
from imaging_ai.services.models.serving import NoServingVersionError, ServedOperatingPoint, ServingService
from imaging_ai.storage.model_folders import model_folder
from imaging_ai.storage.model_store import ModelStoreError, StoredVersion, list_versions, read_version
from imaging_ai.vocabulary import ModelVersionStatus


class UnknownModelVersionError(NotFoundError):
    code = "unknown_model_version"


logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    registered: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def find_stored_version(roots: list[Path], version: str) -> StoredVersion | None:
    for root in roots:
        for stored in list_versions(root):
            if stored.version == version:
                return stored
    return None


def sync_store_to_database(session: Session, roots: list[Path]) -> SyncReport:
    repository = ModelVersionRepository(session)
    report = SyncReport()
    for root in roots:
        for stored in list_versions(root):
            if stored.task not in TASKS:
                logger.warning("model version for an unknown task ignored", extra={"version": stored.version})
                continue
            record = repository.get(stored.version)
            if record is None:
                record = repository.add(
                    ModelVersion(
                        id=stored.version,
                        task=stored.task,
                        status=ModelVersionStatus.candidate,
                        parent_id=stored.card.get("parent_version"),
                        store_path=str(stored.path),
                        weights_sha256=stored.weights_sha256,
                    )
                )
                report.registered.append(stored.version)
            elif record.store_path != str(stored.path):
                # The checkout moved; the version is the same (its hash says so).
                record.store_path = str(stored.path)
            try:
                stored.read_verified_weights()
            except ModelStoreError:
                logger.error("model version refused: weights do not match", extra={"version": stored.version})
                if record.status != ModelVersionStatus.rejected:
                    record.status = ModelVersionStatus.rejected
                    report.rejected.append(stored.version)
                continue
    session.flush()
    for task in TASKS:
        if repository.active(task) is not None:
            continue
        base = [
            version
            for version in repository.for_task(task)
            if version.status == ModelVersionStatus.candidate and version.parent_id is None
        ]
        if base:
            chosen = base[0]
            chosen.status = ModelVersionStatus.active
            chosen.activated_at = datetime.now(UTC)
            report.activated.append(chosen.id)
    session.flush()
    return report


@dataclass(frozen=True)
class SiteServing:
    """What one site of a task is served: the version, how it was chosen, and at which threshold."""

    site: str
    version: str
    routing: str
    operating_point: ServedOperatingPoint
    changed_at: datetime | None = None
    changed_by: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TaskView:
    spec: TaskSpec
    default_version: str | None
    default_operating_point: ServedOperatingPoint | None
    sites: list[SiteServing]


@dataclass(frozen=True)
class VersionView:
    record: ModelVersion
    card: dict[str, object] | None
    lineage: list[str]
    children: list[str]
    serving_sites: list[str]
    operating_points: Sequence[OperatingPoint]


class ModelCatalog:
    """Read side of tasks, versions and what serves each site, for the API."""

    def __init__(self, session: Session, serving: ServingService) -> None:
        self.versions = ModelVersionRepository(session)
        self.routes = ServingRepository(session)
        self.serving = serving

    def tasks(self) -> list[TaskView]:
        return [self.task(name) for name in TASKS]

    def task(self, name: str) -> TaskView:
        spec = get_task(name)
        default = self.versions.active(name)
        sites = []
        for site in self.routes.known_sites(name):
            own = self.routes.site_version(name, site)
            try:
                served = self.serving.version_for(name, site)
            except NoServingVersionError:
                continue
            sites.append(
                SiteServing(
                    site=site,
                    version=served.version.id,
                    routing=served.routing,
                    operating_point=self.serving.operating_point(spec, site, served.version),
                    changed_at=own.changed_at if own else None,
                    changed_by=own.changed_by if own else None,
                    reason=own.reason if own else None,
                )
            )
        return TaskView(
            spec=spec,
            default_version=default.id if default else None,
            default_operating_point=self.serving.operating_point(spec, None, default) if default else None,
            sites=sites,
        )

    def versions_of(self, task: str) -> list[tuple[ModelVersion, dict[str, object] | None, list[str]]]:
        get_task(task)
        return [
            (version, read_card(version), self.routes.sites_served_by(version.id))
            for version in self.versions.for_task(task)
        ]

    def version(self, version_id: str) -> VersionView:
        record = self.versions.get(version_id)
        if record is None:
            raise UnknownModelVersionError(
                f"No model version {version_id!r}.", details={"version": version_id}
            )
        lineage = [ancestor.id for ancestor in self.versions.ancestors(record)]
        children = [v.id for v in self.versions.for_task(record.task) if v.parent_id == record.id]
        return VersionView(
            record=record,
            card=read_card(record),
            lineage=lineage,
            children=children,
            serving_sites=self.routes.sites_served_by(record.id),
            operating_points=[
                p for p in self.routes.operating_points(record.task) if p.model_version_id == record.id
            ],
        )


def read_card(version: ModelVersion) -> dict[str, object] | None:
    try:
        return read_version(model_folder(version.store_path)).card
    except ModelStoreError:
        return None
