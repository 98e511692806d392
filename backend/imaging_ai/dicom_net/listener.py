"""The DICOM listener: a Storage SCP (C-STORE) and Verification SCP (C-ECHO) on pynetdicom.

Only the calling AE titles of `settings.dicom_callers` may associate (any other is rejected with
"calling AE title not recognised"); each maps to the site, and optionally the task, of what it sends.
Every received instance goes through `DicomIntake.receive` (de-identification, ingestion, prediction,
in its own transaction) before the C-STORE is answered: 0x0000 once stored, otherwise a failure status
whose Error Comment is the stable error code (0xC000 "cannot understand" for an instance that is
refused, 0xA700 "out of resources" for a failure on our side that a retry may cure).

Nothing about a patient is logged: only error codes, AE titles and counts.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from imaging_ai.api.deps import dicom_intake
from imaging_ai.api.state import AppState
from imaging_ai.services.cases.dicom_intake import DicomIntake, InstanceOutcome, IntakeRoute
from imaging_ai.settings import DicomCaller

logger = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC000

# Transfer syntaxes accepted for every storage SOP class: the uncompressed ones, deflate, and the
# compressed ones the canonical decoder reads (JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, RLE).
# An instance whose pixels cannot be decoded after all is refused per instance, with its reason.
TRANSFER_SYNTAXES: tuple[str, ...] = tuple(
    uid
    for uid in ALL_TRANSFER_SYNTAXES
    if uid
    in {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.4.50",  # JPEG Baseline (Process 1)
        "1.2.840.10008.1.2.4.51",  # JPEG Extended (Process 2 & 4)
        "1.2.840.10008.1.2.4.57",  # JPEG Lossless (Process 14)
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1 (Process 14, selection value 1)
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
        "1.2.840.10008.1.2.4.91",  # JPEG 2000
        "1.2.840.10008.1.2.5",  # RLE Lossless
    }
)

# A-ASSOCIATE-RJ: rejected permanent, by the service user, calling AE title not recognised.
_REJECT_CALLING_AET = (0x01, 0x01, 0x03)


@dataclass
class ListenerCounts:
    """What the listener has done since it started (for logs and tests; no patient data)."""

    stored: int = 0
    already_stored: int = 0
    refused: int = 0
    rejected_associations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: InstanceOutcome) -> None:
        with self.lock:
            if not outcome.accepted:
                self.refused += 1
            elif outcome.created:
                self.stored += 1
            else:
                self.already_stored += 1


class DicomListener:
    """A C-STORE/C-ECHO SCP that hands every instance to a `DicomIntake`.

    `start()` serves in background threads (one per association) and returns the bound port (`port=0`
    picks a free one); `serve_forever()` blocks; `stop()` ends every association and the server.
    """

    def __init__(
        self,
        intake: DicomIntake,
        *,
        ae_title: str,
        callers: dict[str, DicomCaller],
        host: str = "127.0.0.1",
        port: int = 11112,
    ) -> None:
        self.intake = intake
        self.ae_title = ae_title
        self.callers = {title.strip(): caller for title, caller in callers.items()}
        self.host = host
        self.requested_port = port
        self.counts = ListenerCounts()
        self._server: ThreadedAssociationServer | None = None
        self._ae = self._application_entity()

    def _application_entity(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        for context in AllStoragePresentationContexts:
            assert context.abstract_syntax is not None
            ae.add_supported_context(context.abstract_syntax, list(TRANSFER_SYNTAXES))
        ae.add_supported_context(Verification, list(TRANSFER_SYNTAXES[:3]))
        if self.callers:
            # pynetdicom rejects any other caller itself; an empty list would let everyone in, so the
            # EVT_REQUESTED handler below also rejects when no caller is configured.
            ae.require_calling_aet = list(self.callers)
        # A whole study on one association: predictions run inline, so allow time between messages.
        ae.dimse_timeout = 120
        ae.network_timeout = 120
        ae.maximum_pdu_size = 0  # no limit on what we receive
        return ae

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the listener is not started")
        return int(self._server.server_address[1])

    def _handlers(self) -> list[evt.EventHandlerType]:
        return [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
        ]

    def start(self) -> int:
        """Serves in the background; returns the port it listens on."""
        if self._server is not None:
            return self.port
        self._server = self._ae.start_server(
            (self.host, self.requested_port),
            block=False,
            evt_handlers=self._handlers(),
        )
        logger.info(
            "dicom listener started",
            extra={"ae_title": self.ae_title, "port": self.port, "callers": len(self.callers)},
        )
        return self.port

    def serve_forever(self) -> None:
        """Serves until interrupted (Ctrl-C or SIGTERM raised as KeyboardInterrupt/SystemExit)."""
        self.start()
        try:
            while True:
                time.sleep(1)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is None:
            return
        self._ae.shutdown()
        self._server = None
        logger.info(
            "dicom listener stopped",
            extra={
                "stored": self.counts.stored,
                "already_stored": self.counts.already_stored,
                "refused": self.counts.refused,
                "rejected_associations": self.counts.rejected_associations,
            },
        )

    # --- event handlers (each association runs in its own thread) ---------------------------------

    def _calling_aet(self, event: evt.Event) -> str:
        # While the association is being requested only the A-ASSOCIATE-RQ primitive holds the title.
        requestor = event.assoc.requestor
        primitive = requestor.primitive
        title = primitive.calling_ae_title if primitive is not None else requestor.ae_title
        return str(title or "").strip()

    def _caller(self, event: evt.Event) -> DicomCaller | None:
        return self.callers.get(self._calling_aet(event))

    def _on_requested(self, event: evt.Event) -> None:
        if self._caller(event) is not None:
            return
        with self.counts.lock:
            self.counts.rejected_associations += 1
        logger.warning(
            "dicom association rejected: calling AE title not allowed",
            extra={"calling_ae_title": self._calling_aet(event)[:16]},
        )
        event.assoc.acse.send_reject(*_REJECT_CALLING_AET)
        event.assoc.kill()

    def _on_echo(self, event: evt.Event) -> int:
        return STATUS_SUCCESS

    def _on_store(self, event: evt.Event) -> Dataset:
        caller = self._caller(event)
        if caller is None:  # never associated; kept as a guard
            return _status(STATUS_CANNOT_UNDERSTAND, "calling_ae_not_allowed")
        try:
            data = event.encoded_dataset(include_meta=True)
        except Exception as exc:  # pynetdicom could not give the dataset back: still answer the C-STORE
            logger.error(
                "dicom instance failed", extra={"code": "internal_error", "error_type": type(exc).__name__}
            )
            with self.counts.lock:
                self.counts.refused += 1
            return _status(STATUS_OUT_OF_RESOURCES, "internal_error")
        # Never raises: a failure on our side comes back as an outcome with status 500.
        outcome = self.intake.receive(data, IntakeRoute(site=caller.site, task=caller.task))
        self.counts.count(outcome)
        if outcome.accepted:
            return _status(STATUS_SUCCESS)
        failure = (
            STATUS_OUT_OF_RESOURCES
            if outcome.error_status is not None and outcome.error_status >= 500
            else STATUS_CANNOT_UNDERSTAND
        )
        return _status(failure, outcome.error_code)


def _status(status: int, comment: str | None = None) -> Dataset:
    """A C-STORE response status; the Error Comment (LO, at most 64 characters) carries the code."""
    answer = Dataset()
    answer.Status = status
    if comment:
        answer.ErrorComment = comment[:64]
    return answer


def quiet_pynetdicom() -> None:
    """pynetdicom's own INFO/DEBUG logging can describe datasets; only its warnings are kept."""
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)


def listener_for(state: AppState, *, port: int | None = None) -> DicomListener:
    """The listener of the settings (`dicom_*`), receiving through the same services as the API."""
    settings = state.settings
    intake = dicom_intake(state)
    return DicomListener(
        intake,
        ae_title=settings.dicom_ae_title,
        callers=settings.dicom_callers,
        host=settings.dicom_host,
        port=settings.dicom_port if port is None else port,
    )
