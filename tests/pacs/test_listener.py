"""The DICOM listener against a real PACS: Orthanc sends studies by C-STORE; strangers are refused."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
from pydicom.uid import JPEGBaseline8Bit
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.dicom_net.listener import DicomListener
from imaging_ai.settings import Settings
from tests.pacs.conftest import SITE, stored_images, stored_predictions
from tests.pacs.dicom_files import garbled_pixels, make_study, planted_identity_in, sop_uids
from tests.pacs.orthanc import running_orthanc

ONLY_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_orthanc_sends_a_study_to_the_listener(
    tmp_path: Path,
    listener: DicomListener,
    session_factory: sessionmaker[Session],
    pacs_settings: Settings,
) -> None:
    study_uid, files = make_study(count=4, series=2)
    with running_orthanc(
        tmp_path / "orthanc", modalities={"product": ("IMAGING_AI", "127.0.0.1", listener.port)}
    ) as orthanc:
        echo = httpx.post(f"{orthanc.http_url}/modalities/product/echo", json={}, timeout=30)
        assert echo.status_code == 200, echo.text
        study_id = orthanc.upload(files)
        sent = httpx.post(
            f"{orthanc.http_url}/modalities/product/store",
            json={"Resources": [study_id], "Synchronous": True},
            timeout=120,
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["InstancesCount"] == 4
    images = stored_images(session_factory)
    assert [image.instance_number for image in images] == [1, 2, 3, 4]
    # Grouping kept, under pseudonymous UIDs (the sender's study UID is never stored).
    assert len({image.study_instance_uid for image in images}) == 1
    assert images[0].study_instance_uid != study_uid
    assert len({image.series_instance_uid for image in images}) == 2
    assert {image.site for image in images} == {SITE}
    predictions = stored_predictions(session_factory)
    assert len(predictions) == 4 and {p.task for p in predictions} == {"chest-xray-pneumonia"}
    for path in (pacs_settings.images_dir).rglob("*"):
        if path.is_file():
            assert not planted_identity_in(path.read_bytes())
    assert listener.counts.stored == 4 and listener.counts.refused == 0


@ONLY_SQLITE
def test_a_stranger_is_refused_at_association(listener: DicomListener) -> None:
    stranger = AE(ae_title="STRANGER")
    stranger.add_requested_context(Verification)
    association = stranger.associate("127.0.0.1", listener.port, ae_title="IMAGING_AI")
    assert association.is_rejected
    assert listener.counts.rejected_associations == 1
    # dcmtk's echoscu, as a PACS administrator would try it.
    refused = subprocess.run(
        ["echoscu", "-aet", "STRANGER", "-aec", "IMAGING_AI", "127.0.0.1", str(listener.port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode != 0
    allowed = subprocess.run(
        ["echoscu", "-aet", "ORTHANC", "-aec", "IMAGING_AI", "127.0.0.1", str(listener.port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert allowed.returncode == 0, allowed.stderr


@ONLY_SQLITE
def test_a_corrupt_instance_is_refused_with_its_code(
    tmp_path: Path, listener: DicomListener, session_factory: sessionmaker[Session]
) -> None:
    _, (good, bad) = make_study(count=2)
    sop_class, _ = sop_uids(good)
    (tmp_path / "good.dcm").write_bytes(good)
    (tmp_path / "bad.dcm").write_bytes(garbled_pixels(bad))
    sender = AE(ae_title="ORTHANC")
    sender.add_requested_context(sop_class, JPEGBaseline8Bit)
    association = sender.associate("127.0.0.1", listener.port, ae_title="IMAGING_AI")
    assert association.is_established
    try:
        # A file path is sent as its encoded bytes, as a PACS forwards what it holds.
        refused = association.send_c_store(tmp_path / "bad.dcm")
        stored = association.send_c_store(tmp_path / "good.dcm")
    finally:
        association.release()
    assert refused.Status == 0xC000
    assert refused.ErrorComment  # the stable error code
    assert stored.Status == 0x0000
    assert len(stored_images(session_factory)) == 1
    assert listener.counts.refused == 1 and listener.counts.stored == 1


@ONLY_SQLITE
def test_a_study_of_50_instances_is_received_whole(
    tmp_path: Path,
    listener: DicomListener,
    session_factory: sessionmaker[Session],
) -> None:
    """50 instances of a real radiograph in one study and series, sent by Orthanc in one association while
    each is predicted inline: all stored, in order, one study, one series."""
    _, files = make_study(count=50, series=1)
    with running_orthanc(
        tmp_path / "orthanc", modalities={"product": ("IMAGING_AI", "127.0.0.1", listener.port)}
    ) as orthanc:
        study_id = orthanc.upload(files)
        started = time.perf_counter()
        sent = httpx.post(
            f"{orthanc.http_url}/modalities/product/store",
            json={"Resources": [study_id], "Synchronous": True},
            timeout=300,
        )
        elapsed = time.perf_counter() - started
        assert sent.status_code == 200, sent.text
        assert sent.json()["InstancesCount"] == 50 and sent.json()["FailedInstancesCount"] == 0
    images = stored_images(session_factory)
    assert [image.instance_number for image in images] == list(range(1, 51))
    assert len({image.study_instance_uid for image in images}) == 1
    assert len({image.series_instance_uid for image in images}) == 1
    assert len(stored_predictions(session_factory)) == 50
    assert listener.counts.stored == 50
    print(f"50 instances received and predicted in {elapsed:.1f} s ({elapsed / 50 * 1000:.0f} ms each)")
