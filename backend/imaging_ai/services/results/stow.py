"""STOW-RS (DICOM PS3.18 10.5): storing instances on a DICOMweb server, one multipart/related request.

Failures become `DeliveryError` with a message that names what went wrong (connection, HTTP status,
instances refused) and never the server's response body, which may echo what was sent.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydicom import dcmwrite
from pydicom.dataset import Dataset

FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"
REFERENCED_SOP_INSTANCE_UID = "00081155"
FAILURE_REASON = "00081197"


class DeliveryError(Exception):
    """The destination did not store every instance; the message holds no patient data."""


def redacted(url: str) -> str:
    """The URL without credentials, query or fragment: what logs, audit events and the API show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def encode(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def store_instances(base_url: str, datasets: Sequence[Dataset], *, timeout: float = 30.0) -> list[str]:
    """Stores the instances at `{base_url}/studies`; returns the SOP Instance UIDs the server reports
    stored (or, when it lists none, the ones sent). Raises `DeliveryError` on any failure."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for dataset in datasets:
        body.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        body.write(encode(dataset))
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json",
    }
    try:
        response = httpx.post(
            base_url.rstrip("/") + "/studies", content=body.getvalue(), headers=headers, timeout=timeout
        )
    except httpx.TimeoutException:
        raise DeliveryError(f"no answer from {redacted(base_url)} within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"could not reach {redacted(base_url)} ({type(exc).__name__})") from None
    if response.status_code not in (200, 202):
        raise DeliveryError(f"{redacted(base_url)} answered HTTP {response.status_code}")
    sent = [str(dataset.SOPInstanceUID) for dataset in datasets]
    try:
        answer: Any = response.json() if response.content else {}
    except ValueError:
        answer = {}
    failed = _items(answer, FAILED_SOP_SEQUENCE)
    if failed:
        reasons = sorted({str(_first(item, FAILURE_REASON)) for item in failed})
        raise DeliveryError(
            f"{redacted(base_url)} refused {len(failed)} of {len(sent)} instances "
            f"(failure reason {', '.join(reasons)})"
        )
    stored = [
        str(_first(item, REFERENCED_SOP_INSTANCE_UID)) for item in _items(answer, REFERENCED_SOP_SEQUENCE)
    ]
    return [uid for uid in stored if uid != "None"] or sent


def _items(answer: Any, tag: str) -> list[Any]:
    if not isinstance(answer, dict):
        return []
    element = answer.get(tag)
    value = element.get("Value") if isinstance(element, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _first(item: dict[str, Any], tag: str) -> object:
    element = item.get(tag)
    value = element.get("Value") if isinstance(element, dict) else None
    return value[0] if isinstance(value, list) and value else None
