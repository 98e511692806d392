"""Image ingestion: validate, de-identify, decode once, store by content, record.

The order matters for "nothing half-written": everything that can reject an upload (format,
de-identification, full pixel decode) runs in memory before any byte reaches the store or a row
reaches the database; the file write is undone if the transaction later fails.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError, ImageRejectedError, NotFoundError
from imaging_ai.imaging import (
    DecodedImage,
    ImageError,
    ImageFormat,
    ImageMetadata,
    decode_image,
    deidentify_dicom,
    sniff_format,
)
from imaging_ai.imaging.decode import decode_slot
from imaging_ai.imaging.render import render_png
from imaging_ai.imaging.rendition import (
    RENDITION_NAME,
    Rendition,
    RenditionError,
    make_rendition,
    needs_rendition,
    read_rendition,
    rendition_bytes,
    serves,
)
from imaging_ai.imaging.strip import strip_metadata
from imaging_ai.persistence.images import ImageRepository
from imaging_ai.persistence.models import Image
from imaging_ai.persistence.unit_of_work import end_transaction, on_rollback
from imaging_ai.storage.blob_store import BlobNotFoundError, BlobStore

logger = logging.getLogger(__name__)

# HTTP status per imaging error code: 413 for sizes, 415 for formats we do not take, 422 otherwise.
_STATUS_BY_IMAGE_ERROR = {
    "unsupported_format": 415,
    "image_too_large": 413,
}

_SITE_PATTERN = re.compile(r"[^A-Za-z0-9._+\- ]")


@dataclass(frozen=True)
class IngestResult:
    image: Image
    created: bool


@dataclass
class PreparedUpload:
    """An upload that passed every check, in memory: nothing is stored yet."""

    data: bytes
    """The bytes to store: de-identified DICOM, or PNG/JPEG stripped of metadata."""
    content_sha256: str
    metadata: ImageMetadata
    rendition: bytes | None
    patient_key: str | None
    site: str | None
    """The uploader's site label, else the DICOM institution's, normalised."""
    decoded: DecodedImage | None
    value_range: tuple[float, float]
    """The decoded frame's lowest and highest modality value (HU for CT)."""
    default_window: tuple[float, float]


def normalise_site(raw: str | None) -> str | None:
    """A site label: printable, single-spaced, at most 128 characters; None when empty."""
    if raw is None:
        return None
    cleaned = " ".join(_SITE_PATTERN.sub("", raw).split())[:128]
    return cleaned or None


def pseudonymise(patient_id: str, key: bytes) -> str:
    """Keyed hash of a patient identifier; the same function for DICOM and for uploader-given IDs."""
    return hmac.new(key, patient_id.strip().encode(), hashlib.sha256).hexdigest()[:32]


class IngestionService:
    def __init__(self, session: Session, store: BlobStore, *, max_image_pixels: int, pseudonym_key: bytes):
        self.session = session
        self.store = store
        self.images = ImageRepository(session)
        self.max_image_pixels = max_image_pixels
        self.pseudonym_key = pseudonym_key

    def ingest(self, data: bytes, *, site: str | None = None, patient_id: str | None = None) -> IngestResult:
        """Validate, de-identify, decode, store and record an upload."""
        with decode_slot():
            upload = self._prepare(data, site, patient_id)
            # The arrays (8 bytes a pixel) must not outlive the decode slot while this request waits
            # for the database (SQLite serialises writers): that would undo the slots' bound.
            upload.decoded = None
        return self.record(upload)

    @contextmanager
    def prepare_decoded(
        self, data: bytes, *, site: str | None = None, patient_id: str | None = None
    ) -> Iterator[PreparedUpload]:
        """Every check of `ingest`, keeping the decoded image for the caller (a prediction) while it
        holds the decode slot, until the block ends; nothing is stored until `record`."""
        with decode_slot():
            yield self._prepare(data, site, patient_id)

    def stored_copy(self, upload: PreparedUpload) -> Image | None:
        """The stored image with the same bytes, if any."""
        return self.images.get_by_hash(upload.content_sha256)

    def _prepare(self, data: bytes, site: str | None, patient_id: str | None) -> PreparedUpload:
        """Everything that can refuse an upload, in memory, before the store or the database is touched."""
        try:
            image_format = sniff_format(data)
            institution: str | None = None
            patient_key = pseudonymise(patient_id, self.pseudonym_key) if patient_id else None
            if image_format is ImageFormat.DICOM:
                deidentified = deidentify_dicom(data, key=self.pseudonym_key)
                data = deidentified.data
                institution = deidentified.institution
                patient_key = deidentified.patient_key or patient_key
            else:
                # PNG/JPEG text, EXIF and comments may name the patient: they are never stored. The
                # stripped bytes are what is decoded, hashed and kept, so two uploads differing only
                # in metadata are one image.
                data = strip_metadata(data, image_format)
            decoded = decode_image(data, max_pixels=self.max_image_pixels)
            rendition: bytes | None = None
            if needs_rendition(decoded.metadata.rows, decoded.metadata.cols):
                rendition = rendition_bytes(make_rendition(decoded))
        except ImageError as exc:
            raise ImageRejectedError(
                exc.message,
                code=exc.code,
                status_code=_STATUS_BY_IMAGE_ERROR.get(exc.code, 422),
                details=exc.details,
            ) from exc
        return PreparedUpload(
            data=data,
            content_sha256=self.store.digest(data),
            metadata=decoded.metadata,
            rendition=rendition,
            patient_key=patient_key,
            site=normalise_site(site) or normalise_site(institution),
            decoded=decoded,
            value_range=(float(decoded.pixels.min()), float(decoded.pixels.max())),
            default_window=decoded.default_window,
        )

    def record(self, upload: PreparedUpload) -> IngestResult:
        """Store the bytes (once per content) and record the image; undone if the transaction fails."""
        existing = self.stored_copy(upload)
        if existing is not None:
            return IngestResult(image=existing, created=False)

        stored = self.store.put(upload.data)
        if stored.created:
            on_rollback(self.session, lambda: self._forget_blob(stored.sha256))
        if upload.rendition is not None:
            self.store.put_derived(stored.sha256, RENDITION_NAME, upload.rendition)
        meta = upload.metadata
        spacing = meta.pixel_spacing_mm
        identity = meta.dicom_identity
        image = Image(
            id=uuid.uuid4(),
            content_sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            media_type=meta.media_type,
            format=meta.format.value,
            modality=meta.modality,
            body_part=meta.body_part,
            rows=meta.rows,
            cols=meta.cols,
            bits_stored=meta.bits_stored,
            photometric_interpretation=meta.photometric,
            pixel_spacing_row_mm=spacing[0] if spacing else None,
            pixel_spacing_col_mm=spacing[1] if spacing else None,
            number_of_frames=meta.number_of_frames,
            frame_index=meta.frame_index,
            site=upload.site,
            patient_key=upload.patient_key,
            study_instance_uid=identity.study_uid if identity else None,
            series_instance_uid=identity.series_uid if identity else None,
            sop_instance_uid=identity.sop_instance_uid if identity else None,
            sop_class_uid=identity.sop_class_uid if identity else None,
            instance_number=identity.instance_number if identity else None,
            value_min=upload.value_range[0],
            value_max=upload.value_range[1],
            window_center=upload.default_window[0],
            window_width=upload.default_window[1],
        )
        try:
            with self.session.begin_nested():
                self.images.add(image)
        except IntegrityError:
            # The same bytes were recorded by a concurrent upload between our check and our insert.
            winner = self.stored_copy(upload)
            if winner is None:
                raise
            return IngestResult(image=winner, created=False)
        logger.info("image stored", extra={"image_id": str(image.id), "format": meta.format.value})
        return IngestResult(image=image, created=True)

    def get(self, image_id: uuid.UUID) -> Image:
        image = self.images.get(image_id)
        if image is None:
            raise NotFoundError("No image with this id.", details={"image_id": str(image_id)})
        return image

    def read_stored(self, image: Image) -> bytes:
        try:
            return self.store.read(image.content_sha256)
        except BlobNotFoundError as exc:
            raise DomainError(
                "The image record exists but its file is missing from storage.",
                code="image_file_missing",
                status_code=500,
            ) from exc

    def load(self, image: Image) -> DecodedImage:
        """Decode a stored image with the same canonical path used at ingestion and by the models."""
        return decode_image(self.read_stored(image), max_pixels=self.max_image_pixels)

    def render(
        self,
        image_id: uuid.UUID,
        *,
        window_center: float | None = None,
        window_width: float | None = None,
        max_size: int | None = None,
    ) -> bytes:
        """An 8-bit PNG of a stored image (see `render_png`); a missing centre or width is the default's.

        The request's transaction ends once the record is read: decoding must not hold SQLite's write
        lock (or a PostgreSQL snapshot). Views no larger than the stored rendition are drawn from it;
        only a full-size view of a large image decodes the original. Either way under a decode slot.
        """
        image = self.get(image_id)
        end_transaction(self.session)
        use_rendition = serves(image.rows, image.cols, max_size)
        with decode_slot():
            source: Rendition | DecodedImage | None = self._stored_rendition(image) if use_rendition else None
            if source is None:
                decoded = self.load(image)
                source = decoded
                if use_rendition:
                    # Images stored before renditions existed, or whose rendition was lost: make it now.
                    source = make_rendition(decoded)
                    self.store.put_derived(image.content_sha256, RENDITION_NAME, rendition_bytes(source))
                del decoded
            window = None
            if window_center is not None or window_width is not None:
                default_center, default_width = source.default_window
                window = (
                    window_center if window_center is not None else default_center,
                    window_width if window_width is not None else default_width,
                )
            return render_png(source, window=window, max_size=max_size)

    def _stored_rendition(self, image: Image) -> Rendition | None:
        data = self.store.read_derived(image.content_sha256, RENDITION_NAME)
        if data is None:
            return None
        try:
            return read_rendition(data)
        except RenditionError:
            logger.warning("unreadable rendition replaced", extra={"image_id": str(image.id)})
            return None

    def _forget_blob(self, sha256: str) -> None:
        # Only remove the file when no committed record points at it (a concurrent identical upload
        # may have recorded it in the meantime).
        if self.images.get_by_hash(sha256) is None:
            self.store.delete(sha256)
