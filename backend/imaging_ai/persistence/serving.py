"""Queries on which version serves each site, and the operating point each version serves there."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import OperatingPoint, Prediction, SiteVersion


class ServingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def site_version(self, task: str, site: str) -> SiteVersion | None:
        return self.session.get(SiteVersion, (task, site))

    def site_versions(self, task: str) -> Sequence[SiteVersion]:
        return self.session.scalars(
            select(SiteVersion).where(SiteVersion.task == task).order_by(SiteVersion.site)
        ).all()

    def sites_served_by(self, version_id: str) -> list[str]:
        return list(
            self.session.scalars(
                select(SiteVersion.site)
                .where(SiteVersion.model_version_id == version_id)
                .order_by(SiteVersion.site)
            )
        )

    def put_site_version(self, row: SiteVersion) -> SiteVersion:
        merged = self.session.merge(row)
        self.session.flush()
        return merged

    def remove_site_version(self, task: str, site: str) -> None:
        self.session.execute(delete(SiteVersion).where(SiteVersion.task == task, SiteVersion.site == site))
        self.session.flush()

    def operating_point(self, task: str, site: str, version_id: str) -> OperatingPoint | None:
        return self.session.get(OperatingPoint, (task, site, version_id))

    def operating_points(self, task: str) -> Sequence[OperatingPoint]:
        return self.session.scalars(
            select(OperatingPoint)
            .where(OperatingPoint.task == task)
            .order_by(OperatingPoint.site, OperatingPoint.model_version_id)
        ).all()

    def put_operating_point(self, row: OperatingPoint) -> OperatingPoint:
        merged = self.session.merge(row)
        self.session.flush()
        return merged

    def known_sites(self, task: str) -> list[str]:
        """Sites that sent images for the task or have a version of their own."""
        sent = self.session.scalars(
            select(Prediction.site).where(Prediction.task == task, Prediction.site.is_not(None)).distinct()
        ).all()
        return sorted({site for site in sent if site} | {row.site for row in self.site_versions(task)})
