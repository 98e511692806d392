"""Nothing identifying reaches the logs, even when ingestion of identifying files succeeds or fails."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from imaging_ai.log_config import JsonFormatter
from tests import samples


def test_logs_hold_no_patient_data(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    identity = {"patient_name": "Doe^Jane", "patient_id": "MRN-99881", "institution": "Hospital Secret"}
    good = samples.with_identity(samples.CT_SMALL, **identity)
    broken = good[: len(good) // 2]
    assert client.post("/api/v1/images", files={"file": ("Doe_Jane_MRN-99881.dcm", good)}).status_code == 201
    assert (
        client.post("/api/v1/images", files={"file": ("Doe_Jane_MRN-99881.dcm", broken)}).status_code == 422
    )
    client.post("/api/v1/images", files={"file": ("a.png", b"x")}, data={"patient_id": "MRN-99881"})

    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any('"path": "/api/v1/images"' in line for line in lines), "requests were not logged"
    for line in lines:
        for secret in ("Doe", "Jane", "99881", "Hospital Secret"):
            assert secret not in line, line


def test_a_logged_exception_keeps_its_type_and_place_but_not_its_message_or_paths() -> None:
    def decode_element() -> None:
        raise ValueError("Patient's Name 'Doe^Jane' in /data/hospital/Doe_Jane_MRN-99881.dcm is bad")

    try:
        decode_element()
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "unhandled error", None, sys.exc_info())
    line = JsonFormatter().format(record)
    assert '"exception": "ValueError"' in line and "decode_element" in line
    for secret in ("Doe", "99881", "/data/hospital", __file__):
        assert secret not in line, line
