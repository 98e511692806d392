"""Studies that arrive whole: a STOW-RS request's instances, and a study pulled from a PACS by DICOMweb.

Each instance goes through `DicomIntake` on its own (its own transaction), so one bad object is refused
with its reason while the others are kept. The pull finds the study by QIDO-RS and retrieves it series by
series by WADO-RS (streamed: one instance in memory at a time).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests
from dicomweb_client import DICOMwebClient

from imaging_ai.errors import DomainError
from imaging_ai.services.cases.dicom_intake import DicomIntake, InstanceOutcome, IntakeRoute, sender_identity
from imaging_ai.services.cases.studies import StudyNotFoundError

logger = logging.getLogger(__name__)


class StudyMismatchError(DomainError):
    """An instance sent to `/studies/{study}` that belongs to another study."""

    status_code = 409
    code = "study_mismatch"


class PacsNotConfiguredError(DomainError):
    status_code = 409
    code = "pacs_not_configured"


class PacsUnreachableError(DomainError):
    status_code = 502
    code = "pacs_unreachable"


class PacsError(DomainError):
    """The PACS answered, but not with what DICOMweb promises (an HTTP error, an unreadable body)."""

    status_code = 502
    code = "pacs_error"


def receive_instances(
    intake: DicomIntake,
    instances: Iterable[bytes],
    route: IntakeRoute,
    *,
    study_instance_uid: str | None = None,
) -> list[InstanceOutcome]:
    """Each instance through the intake; with `study_instance_uid`, one of another study is refused
    (`study_mismatch`) without being ingested. Outcomes in the order of the instances."""
    outcomes = []
    for data in instances:
        sender = sender_identity(data) if study_instance_uid is not None else None
        if sender is not None and sender.study_instance_uid not in (None, study_instance_uid):
            outcome = InstanceOutcome(
                sender.sop_class_uid,
                sender.sop_instance_uid,
                error_code=StudyMismatchError.code,
                error_message="The instance belongs to another study than the one it was sent to.",
                error_status=StudyMismatchError.status_code,
            )
        else:
            outcome = intake.receive(data, route)
        outcomes.append(outcome)
    refused = sum(1 for outcome in outcomes if not outcome.accepted)
    logger.info("dicom instances received", extra={"instances": len(outcomes), "refused": refused})
    return outcomes


@dataclass(frozen=True)
class StudyImport:
    study_instance_uid: str
    site: str | None
    outcomes: list[InstanceOutcome]


ClientFactory = Callable[[str], DICOMwebClient]


def _client(url: str) -> DICOMwebClient:
    client = DICOMwebClient(url=url, timeout=(5, 60))
    # Its default retries every failure, a refused connection too, 5 times over 30 s of back-off: one
    # quick retry is enough for a request waiting on it.
    client.set_http_retry_params(retry=True, max_attempts=2, wait_exponential_multiplier=250)
    return client


class PacsImporter:
    """Pulls a study from the configured DICOMweb source (`dicomweb_source_url`) into the intake."""

    def __init__(
        self,
        intake: DicomIntake,
        source_url: str | None,
        *,
        source_site: str | None = None,
        client_factory: ClientFactory = _client,
    ) -> None:
        self.intake = intake
        self.source_url = source_url
        self.source_site = source_site
        self.client_factory = client_factory

    def import_study(
        self, study_instance_uid: str, *, task: str | None = None, site: str | None = None
    ) -> StudyImport:
        if not self.source_url:
            raise PacsNotConfiguredError(
                "No PACS to pull from: set IMAGING_AI_DICOMWEB_SOURCE_URL to its DICOMweb base URL."
            )
        client = self.client_factory(self.source_url)
        route = IntakeRoute(site=site or self.source_site, task=task)
        with _pacs_errors():
            found = client.search_for_studies(search_filters={"StudyInstanceUID": study_instance_uid})
            if not found:
                raise StudyNotFoundError(
                    "The PACS has no study with this Study Instance UID.",
                    details={"study_instance_uid": study_instance_uid},
                )
            series = client.search_for_series(study_instance_uid, fields=["SeriesInstanceUID"])
            series_uids = sorted({str(item["0020000E"]["Value"][0]) for item in series if "0020000E" in item})
            outcomes = receive_instances(
                self.intake,
                _retrieved(client, study_instance_uid, series_uids),
                route,
                study_instance_uid=study_instance_uid,
            )
        return StudyImport(study_instance_uid, route.site, outcomes)


def _retrieved(client: DICOMwebClient, study_uid: str, series_uids: list[str]) -> Iterator[bytes]:
    """The study's instances as files, as stored by the PACS (`transfer-syntax=*`: no transcoding)."""
    for series_uid in series_uids:
        for dataset in client.iter_series(study_uid, series_uid, media_types=(("application/dicom", "*"),)):
            buffer = io.BytesIO()
            dataset.save_as(buffer, enforce_file_format=True)
            yield buffer.getvalue()


@contextmanager
def _pacs_errors() -> Iterator[None]:
    """Connection failures as `pacs_unreachable`, bad answers as `pacs_error` (both 502)."""
    try:
        yield
    except DomainError:
        raise
    except (requests.ConnectionError, requests.Timeout) as exc:
        logger.warning("pacs unreachable", extra={"code": PacsUnreachableError.code})
        raise PacsUnreachableError("The PACS could not be reached.") from exc
    except (requests.RequestException, ValueError, KeyError, IndexError) as exc:
        logger.warning("pacs error", extra={"code": PacsError.code, "error_type": type(exc).__name__})
        raise PacsError("The PACS answered with an error or an unreadable response.") from exc
