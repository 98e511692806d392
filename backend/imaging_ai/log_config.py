"""Structured JSON logs with the request id of the request being served.

Log lines carry ids, codes, sizes and timings only; never file names, patient keys, DICOM
attributes or request bodies (patient data must not reach logs).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is emitted.
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type and where it passed (module:function:line) only. Not its message,
            # nor a formatted traceback: either can quote input (a DICOM value) or a file path.
            entry["exception"] = record.exc_info[0].__name__
            entry["frames"] = safe_frames(record.exc_info[2])
        return json.dumps(entry, default=str)


def safe_frames(traceback: TracebackType | None) -> list[str]:
    frames = []
    while traceback is not None:
        frame = traceback.tb_frame
        frames.append(f"{frame.f_globals.get('__name__', '?')}:{frame.f_code.co_name}:{traceback.tb_lineno}")
        traceback = traceback.tb_next
    return frames[-12:]


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log would print raw query strings; the API logs requests itself.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
