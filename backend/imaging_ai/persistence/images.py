"""Queries on image records."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import Image


class ImageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, image_id: uuid.UUID) -> Image | None:
        return self.session.get(Image, image_id)

    def get_by_hash(self, content_sha256: str) -> Image | None:
        return self.session.scalars(select(Image).where(Image.content_sha256 == content_sha256)).first()

    def study_uids(self, image_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        """Each image's (pseudonymised) Study Instance UID; None for images without one."""
        if not image_ids:
            return {}
        query = select(Image.id, Image.study_instance_uid).where(Image.id.in_(image_ids))
        return {image_id: study for image_id, study in self.session.execute(query)}

    def add(self, image: Image) -> Image:
        self.session.add(image)
        self.session.flush()
        return image
