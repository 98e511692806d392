"""Promotion and rollback, for one site or for the task's default.

The task's default is its active version: it serves every site without a version of its own. A
version promoted for a site serves that site only. The gate (`services/training/gate.py`) promotes
automatically; an administrator may promote or roll back by hand, with a reason. Every change is one
transaction and one audit event naming the site, and the autonomy earned under the replaced version
drops where the new one serves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError
from imaging_ai.ml.tasks import get_task
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import ModelVersion, SiteVersion
from imaging_ai.persistence.serving import ServingRepository
from imaging_ai.services.accounts.identity import Actor
from imaging_ai.services.models.catalog import UnknownModelVersionError
from imaging_ai.services.models.serving import NoServingVersionError, ServingService
from imaging_ai.services.trust.autonomy import fall_back_on_promotion
from imaging_ai.vocabulary import ModelVersionStatus


class PromotionError(DomainError):
    status_code = 409
    code = "promotion_refused"


class PromotionService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.versions = ModelVersionRepository(session)
        self.serving = ServingRepository(session)

    def activate(
        self,
        version_id: str,
        *,
        actor: Actor,
        reason: str,
        action: str = "model.promote",
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Makes a version the task's active one, in this transaction, with an audit event."""
        version = self.versions.get(version_id)
        if version is None:
            raise UnknownModelVersionError(f"No model version {version_id!r}.")
        if version.status == ModelVersionStatus.rejected:
            raise PromotionError("A rejected version (weights failed their check) cannot be activated.")
        current = self.versions.active(version.task)
        if current is not None and current.id == version.id:
            raise PromotionError(f"{version.id} is already active.")
        if current is not None:
            current.status = ModelVersionStatus.retired
            # Flush the retirement first: the one-active-per-task index checks each statement.
            self.session.flush()
        version.status = ModelVersionStatus.active
        version.activated_at = datetime.now(UTC)
        self.session.flush()
        own_sites = {row.site for row in self.serving.site_versions(version.task)}
        fall_back_on_promotion(self.session, version.task, version.id, keep=own_sites)
        record_audit_event(
            self.session,
            actor,
            action,
            target_type="model_version",
            target_id=version.id,
            details={
                "task": version.task,
                "site": None,
                "scope": "default",
                "previous": current.id if current else None,
                "reason": reason,
                "metrics": metrics or {},
            },
        )
        return version

    def _usable(self, version_id: str) -> ModelVersion:
        version = self.versions.get(version_id)
        if version is None:
            raise UnknownModelVersionError(
                f"No model version {version_id!r}.", details={"version": version_id}
            )
        if version.status == ModelVersionStatus.rejected:
            raise PromotionError("A rejected version (weights failed their check) cannot serve.")
        return version

    def assign_site(
        self,
        version_id: str,
        site: str,
        *,
        actor: Actor,
        reason: str,
        action: str = "model.promote",
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Makes a version serve one site of its task, in this transaction, with an audit event."""
        version = self._usable(version_id)
        current = self.serving.site_version(version.task, site)
        if current is not None and current.model_version_id == version.id:
            raise PromotionError(f"{version.id} already serves site {site}.")
        try:
            serving_now: str | None = ServingService(self.session).version_for(version.task, site).version.id
        except NoServingVersionError:
            serving_now = None
        self.serving.put_site_version(
            SiteVersion(
                task=version.task,
                site=site,
                model_version_id=version.id,
                changed_by=actor.username,
                reason=reason,
                changed_at=datetime.now(UTC),
            )
        )
        self._site_changed(version.task, site, serving_now, version.id, actor, reason, action, metrics)
        return version

    def _site_changed(
        self,
        task: str,
        site: str,
        before: str | None,
        after: str,
        actor: Actor,
        reason: str,
        action: str,
        metrics: dict[str, Any] | None,
    ) -> None:
        if before != after:
            fall_back_on_promotion(self.session, task, after, site=site)
        record_audit_event(
            self.session,
            actor,
            action,
            target_type="model_version",
            target_id=after,
            details={
                "task": task,
                "site": site,
                "scope": "site",
                "previous": before,
                "reason": reason,
                "metrics": metrics or {},
            },
        )

    def promote(self, version_id: str, *, site: str | None, actor: Actor, reason: str) -> ModelVersion:
        """An administrator's promotion: for one site, or (no site) as the task's default."""
        if site is None:
            return self.activate(version_id, actor=actor, reason=reason)
        return self.assign_site(version_id, site, actor=actor, reason=reason)

    def rollback(self, task: str, *, actor: Actor, reason: str, site: str | None = None) -> ModelVersion:
        """Without a site: re-activates the default the current one replaced (its parent, else the latest
        retired). With a site: the site goes back to the version its own was trained from, or to the
        task's default when that is what it was trained from (the site then has no version of its own)."""
        get_task(task)
        if site is not None:
            return self._rollback_site(task, site, actor=actor, reason=reason)
        current = self.versions.active(task)
        if current is None:
            raise PromotionError(f"Task {task} has no active version to roll back.")
        target = self.versions.get(current.parent_id) if current.parent_id else None
        if target is None or target.status == ModelVersionStatus.rejected:
            retired = [
                v
                for v in self.versions.for_task(task)
                if v.status == ModelVersionStatus.retired and v.activated_at
            ]
            target = max(
                retired, key=lambda v: v.activated_at or datetime.min.replace(tzinfo=UTC), default=None
            )
        if target is None:
            raise PromotionError(f"{current.id} has no earlier version to roll back to.")
        return self.activate(target.id, actor=actor, reason=reason, action="model.rollback")

    def _rollback_site(self, task: str, site: str, *, actor: Actor, reason: str) -> ModelVersion:
        own = self.serving.site_version(task, site)
        if own is None:
            raise PromotionError(
                f"Site {site} is served by the task's default; roll back the default instead.",
                details={"site": site},
            )
        current = self.versions.get(own.model_version_id)
        default = self.versions.active(task)
        parent = self.versions.get(current.parent_id) if current and current.parent_id else None
        if (
            parent is None
            or parent.status == ModelVersionStatus.rejected
            or (default is not None and parent.id == default.id)
        ):
            if default is None:
                raise PromotionError(f"Task {task} has no default version to roll site {site} back to.")
            self.serving.remove_site_version(task, site)
            self._site_changed(
                task, site, own.model_version_id, default.id, actor, reason, "model.rollback", None
            )
            return default
        return self.assign_site(parent.id, site, actor=actor, reason=reason, action="model.rollback")
