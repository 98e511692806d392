"""DICOM studies and series as received: the images grouped by their (pseudonymised) UIDs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Image, Prediction


@dataclass(frozen=True)
class StudyRow:
    study_instance_uid: str
    site: str | None
    patient_key: str | None
    modalities: tuple[str, ...]
    series_count: int
    instance_count: int
    first_received_at: datetime
    last_received_at: datetime


@dataclass(frozen=True)
class SeriesRow:
    series_instance_uid: str
    study_instance_uid: str
    modality: str | None
    body_part: str | None
    site: str | None
    instance_count: int
    first_received_at: datetime
    last_received_at: datetime


class StudyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(self, *, site: str | None, limit: int, offset: int) -> tuple[list[StudyRow], int]:
        """Studies, most recently received first."""
        where: list[ColumnElement[bool]] = [Image.study_instance_uid.is_not(None)]
        if site is not None:
            where.append(Image.site == site)
        total = self.session.scalar(select(func.count(func.distinct(Image.study_instance_uid))).where(*where))
        last = func.max(Image.created_at)
        rows = self.session.execute(
            select(
                Image.study_instance_uid,
                func.min(Image.site),
                func.min(Image.patient_key),
                func.count(func.distinct(Image.series_instance_uid)),
                func.count(Image.id),
                func.min(Image.created_at),
                last,
            )
            .where(*where)
            .group_by(Image.study_instance_uid)
            .order_by(last.desc(), Image.study_instance_uid)
            .limit(limit)
            .offset(offset)
        ).all()
        uids = [str(row[0]) for row in rows]
        modalities = self._modalities(uids)
        studies = [
            StudyRow(
                study_instance_uid=str(uid),
                site=site_,
                patient_key=patient_key,
                modalities=modalities.get(str(uid), ()),
                series_count=int(series),
                instance_count=int(instances),
                first_received_at=first,
                last_received_at=latest,
            )
            for uid, site_, patient_key, series, instances, first, latest in rows
        ]
        return studies, int(total or 0)

    def study(self, study_instance_uid: str) -> StudyRow | None:
        rows = self.session.execute(
            select(
                func.min(Image.site),
                func.min(Image.patient_key),
                func.count(func.distinct(Image.series_instance_uid)),
                func.count(Image.id),
                func.min(Image.created_at),
                func.max(Image.created_at),
            ).where(Image.study_instance_uid == study_instance_uid)
        ).one()
        site, patient_key, series, instances, first, latest = rows
        if not instances:
            return None
        return StudyRow(
            study_instance_uid=study_instance_uid,
            site=site,
            patient_key=patient_key,
            modalities=self._modalities([study_instance_uid]).get(study_instance_uid, ()),
            series_count=int(series),
            instance_count=int(instances),
            first_received_at=first,
            last_received_at=latest,
        )

    def series_of_study(self, study_instance_uid: str) -> list[SeriesRow]:
        rows = self.session.execute(
            select(
                Image.series_instance_uid,
                func.min(Image.modality),
                func.min(Image.body_part),
                func.min(Image.site),
                func.count(Image.id),
                func.min(Image.created_at),
                func.max(Image.created_at),
            )
            .where(Image.study_instance_uid == study_instance_uid, Image.series_instance_uid.is_not(None))
            .group_by(Image.series_instance_uid)
            .order_by(func.min(Image.created_at), Image.series_instance_uid)
        ).all()
        return [
            SeriesRow(str(uid), study_instance_uid, modality, body_part, site, int(count), first, latest)
            for uid, modality, body_part, site, count, first, latest in rows
        ]

    def series_images(self, series_instance_uid: str) -> list[Image]:
        """The series' instances by instance number (those without one last), then as received."""
        return list(
            self.session.scalars(
                select(Image)
                .where(Image.series_instance_uid == series_instance_uid)
                .order_by(
                    Image.instance_number.is_(None),
                    Image.instance_number,
                    Image.created_at,
                    Image.id,
                )
            )
        )

    def latest_predictions(self, image_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Prediction]:
        """The most recent prediction of each image (any task)."""
        latest: dict[uuid.UUID, Prediction] = {}
        if not image_ids:
            return latest
        for prediction in self.session.scalars(
            select(Prediction)
            .where(Prediction.image_id.in_(list(image_ids)))
            .order_by(Prediction.created_at, Prediction.id)
        ):
            latest[prediction.image_id] = prediction
        return latest

    def _modalities(self, study_uids: list[str]) -> dict[str, tuple[str, ...]]:
        if not study_uids:
            return {}
        found: dict[str, set[str]] = {}
        for uid, modality in self.session.execute(
            select(Image.study_instance_uid, Image.modality)
            .where(Image.study_instance_uid.in_(study_uids), Image.modality.is_not(None))
            .distinct()
        ):
            found.setdefault(str(uid), set()).add(str(modality))
        return {uid: tuple(sorted(values)) for uid, values in found.items()}
