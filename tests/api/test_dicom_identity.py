"""DICOM images keep their study and series (as keyed pseudonyms), their instance number, and their
modality value range and default window (Hounsfield units for CT); and the intake shared by the
hospital-facing paths (listener, STOW-RS, pull) refuses per instance without storing anything."""

from __future__ import annotations

import pydicom
import pytest
from fastapi.testclient import TestClient

from imaging_ai.api.deps import case_services
from imaging_ai.services.cases.dicom_intake import DicomIntake, IntakeRoute, task_for
from tests import samples
from tests.api.conftest import app_state, image_rows, stored_files

CT_HEAD = ("ct_head/cq500-ct-0_CT000064.dcm", "ct_head/cq500-ct-0_CT000096.dcm")


def _upload(client: TestClient, relative: str) -> dict[str, object]:
    data = samples.dicom(relative).read_bytes()
    response = client.post("/api/v1/images", files={"file": ("slice.dcm", data)})
    assert response.status_code == 201, response.text
    record: dict[str, object] = response.json()
    return record


def test_ct_slices_keep_their_series_as_pseudonyms_and_their_hounsfield_range(client: TestClient) -> None:
    first, second = (_upload(client, path) for path in CT_HEAD)
    original = pydicom.dcmread(samples.dicom(CT_HEAD[0]), stop_before_pixels=True)

    # Same study and series, other instances: the grouping survives de-identification...
    assert first["study_instance_uid"] == second["study_instance_uid"]
    assert first["series_instance_uid"] == second["series_instance_uid"]
    assert first["sop_instance_uid"] != second["sop_instance_uid"]
    # ... the original UIDs do not.
    for key, uid in (
        ("study_instance_uid", original.StudyInstanceUID),
        ("series_instance_uid", original.SeriesInstanceUID),
        ("sop_instance_uid", original.SOPInstanceUID),
    ):
        assert first[key] != uid and str(first[key]).startswith("2.25.")
    assert first["instance_number"] == int(original.InstanceNumber)

    # Hounsfield units: air is -1000 and the scanner pads outside its field of view below that (-3024
    # here); bone is far above 0. Stored bits (0..4095) would fail both.
    low, high = first["value_range"]  # type: ignore[misc]
    assert low <= -1000 and high > 500
    assert first["default_window"] == {
        "center": float(original.WindowCenter),
        "width": float(original.WindowWidth),
    }


def test_png_has_a_grey_level_range_and_no_dicom_identity(client: TestClient) -> None:
    response = client.post("/api/v1/images", files={"file": ("x.png", samples.nih_png().read_bytes())})
    record = response.json()
    assert record["study_instance_uid"] is None and record["instance_number"] is None
    low, high = record["value_range"]
    assert 0 <= low < high <= 255


def test_task_is_chosen_from_modality_and_body_part() -> None:
    assert task_for("CR", "CHEST") == "chest-xray-pneumonia"
    assert task_for("DX", None) == "chest-xray-pneumonia"
    assert task_for("MR", "BRAIN") == "brain-mri-tumor"
    assert task_for("MR", "KNEE") is None
    # CT is heads and bellies too: only a chest CT is taken without a task named.
    assert task_for("CT", None) is None
    assert task_for("CT", "HEAD") is None


def test_intake_refuses_per_instance_and_stores_nothing(client: TestClient) -> None:
    state = app_state(client)
    intake = DicomIntake(state.session_factory, case_services(state))
    rows, files = image_rows(client), stored_files(client)

    # A head CT without a task: no task fits it.
    refused = intake.receive(samples.dicom(CT_HEAD[0]).read_bytes(), IntakeRoute(site="north"))
    assert refused.error_code == "no_task_for_instance" and refused.error_status == 422
    assert refused.sop_instance_uid == str(
        pydicom.dcmread(samples.dicom(CT_HEAD[0]), stop_before_pixels=True).SOPInstanceUID
    )
    # A truncated file, and bytes that are not DICOM at all.
    data = samples.dicom(samples.CR_UNCOMPRESSED).read_bytes()
    truncated = intake.receive(data[: len(data) // 2], IntakeRoute(site="north", task="chest-xray-pneumonia"))
    assert truncated.error_code is not None and not truncated.accepted
    assert intake.receive(b"not dicom at all", IntakeRoute(site="north")).error_code == "not_dicom"
    # A modality the named task does not take.
    mismatch = intake.receive(
        samples.dicom(samples.MR_SMALL).read_bytes(), IntakeRoute(site="north", task="chest-xray-pneumonia")
    )
    assert mismatch.error_code == "modality_mismatch"
    assert image_rows(client) == rows and stored_files(client) == files


@pytest.mark.slow
def test_intake_predicts_once_per_instance(client: TestClient) -> None:
    state = app_state(client)
    intake = DicomIntake(state.session_factory, case_services(state))
    data = samples.dicom(samples.CR_UNCOMPRESSED).read_bytes()
    route = IntakeRoute(site="north", task="chest-xray-pneumonia")

    first = intake.receive(data, route)
    assert first.accepted and first.created and first.prediction_id is not None
    prediction = client.get(f"/api/v1/predictions/{first.prediction_id}").json()
    assert prediction["site"] == "north" and prediction["task"] == "chest-xray-pneumonia"

    # Sent again (a retried association): the same answer, not a second case on the worklist.
    again = intake.receive(data, route)
    assert (again.created, again.image_id, again.prediction_id) == (
        False,
        first.image_id,
        first.prediction_id,
    )
    listed = client.get("/api/v1/predictions", params={"site": "north"}).json()
    assert listed["total"] == 1
