"""Image ingestion through the API with real files, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from tests import samples
from tests.api.conftest import image_rows, stored_files


def upload(client: TestClient, data: bytes, filename: str = "upload.bin", **form: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/images", files={"file": (filename, data)}, data=form)


def test_png_chest_xray_is_stored_and_returned(client: TestClient) -> None:
    data = samples.nih_png().read_bytes()
    response = upload(client, data, "chest.png", site="nih")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["format"] == "png"
    assert record["media_type"] == "image/png"
    assert (record["rows"], record["cols"]) == (256, 256)
    assert record["bits_stored"] == 8
    assert record["site"] == "nih"
    assert record["size_bytes"] == len(data)
    import hashlib

    assert record["content_sha256"] == hashlib.sha256(data).hexdigest()

    fetched = client.get(f"/api/v1/images/{record['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == record

    original = client.get(f"/api/v1/images/{record['id']}/file")
    assert original.status_code == 200
    assert original.content == data
    assert original.headers["content-type"] == "image/png"
    assert "chest" not in original.headers["content-disposition"]


def test_the_uploaders_file_name_is_stored_nowhere(client: TestClient) -> None:
    """Hospital file names often carry the patient's name: not in the record, the database or the logs."""
    from sqlalchemy import text

    from tests.api.conftest import app_state

    name = "DOE_JANE_1961-04-02_chest.png"
    for route, form in (("/api/v1/images", {}), ("/api/v1/predictions", {"task": "chest-xray-pneumonia"})):
        data = PILImage.fromarray(np.full((64, 64), len(route), np.uint8))
        buffer = io.BytesIO()
        data.save(buffer, format="PNG")
        response = client.post(route, files={"file": (name, buffer.getvalue())}, data=form)
        assert response.status_code == 201, response.text
        assert "DOE" not in response.text
    with app_state(client).session_factory() as session:
        for table in ("images", "predictions", "audit_events"):
            rows = session.execute(text(f"SELECT * FROM {table}")).all()
            assert not any("DOE" in str(value) for row in rows for value in row), table
        assert session.execute(text("SELECT count(*) FROM images")).scalar() == 2


def test_identical_upload_returns_the_existing_record(client: TestClient) -> None:
    data = samples.guangzhou_jpeg().read_bytes()
    first = upload(client, data, "a.jpeg")
    second = upload(client, data, "b.jpeg")
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert image_rows(client) == 1
    assert len(stored_files(client)) == 1


@pytest.mark.parametrize(
    ("relative", "rows", "cols", "frames", "frame_index", "photometric", "modality"),
    [
        (samples.CR_MONOCHROME1_JPEG, 1024, 1024, 1, 0, "MONOCHROME1", "CR"),
        (samples.CR_JPEG2000, 1955, 1841, 1, 0, "MONOCHROME1", "CR"),
        (samples.CT_SMALL, 128, 128, 1, 0, "MONOCHROME2", "CT"),
        (samples.CT_MULTIFRAME, 512, 512, 2, 1, "MONOCHROME2", "CT"),
        (samples.MR_SMALL, 64, 64, 1, 0, "MONOCHROME2", "MR"),
    ],
)
def test_dicom_variants_are_ingested(
    client: TestClient,
    relative: str,
    rows: int,
    cols: int,
    frames: int,
    frame_index: int,
    photometric: str,
    modality: str,
) -> None:
    response = upload(client, samples.dicom(relative).read_bytes(), "x.dcm")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["format"] == "dicom"
    assert record["media_type"] == "application/dicom"
    assert (record["rows"], record["cols"]) == (rows, cols)
    assert record["number_of_frames"] == frames
    assert record["frame_index"] == frame_index
    assert record["photometric_interpretation"] == photometric
    assert record["modality"] == modality

    rendered = client.get(f"/api/v1/images/{record['id']}/render", params={"size": 256})
    assert rendered.status_code == 200
    assert rendered.headers["content-type"] == "image/png"
    picture = PILImage.open(io.BytesIO(rendered.content))
    assert max(picture.size) == min(256, max(rows, cols))
    assert picture.mode == "L"


def test_rle_compressed_dicom_is_ingested(client: TestClient) -> None:
    response = upload(client, samples.rle_compressed(samples.CT_SMALL), "rle.dcm")
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 128


def test_dicom_is_deidentified_before_storage(client: TestClient) -> None:
    data = samples.with_identity(
        samples.CT_SMALL, patient_name="Doe^Jane", patient_id="MRN-0042", institution="St Elsewhere General"
    )
    response = upload(client, data, "ct.dcm")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["site"] == "St Elsewhere General"
    assert record["patient_key"] and "0042" not in record["patient_key"]

    stored = client.get(f"/api/v1/images/{record['id']}/file").content
    for identifying in (b"Doe^Jane", b"MRN-0042", b"St Elsewhere", b"19510704"):
        assert identifying not in stored
    dataset = pydicom.dcmread(io.BytesIO(stored))
    assert dataset.PatientIdentityRemoved == "YES"
    original = pydicom.dcmread(io.BytesIO(data))
    assert dataset.SOPInstanceUID != original.SOPInstanceUID
    np.testing.assert_array_equal(dataset.pixel_array, original.pixel_array)

    # The same patient in another file gets the same pseudonymous key; another patient does not.
    same_patient = samples.with_identity(
        samples.MR_SMALL, patient_name="Doe^Jane", patient_id="MRN-0042", institution="St Elsewhere General"
    )
    # Another image: the same pixels and study under another name de-identify to the same bytes.
    other_patient = samples.with_identity(
        samples.SMALL_MR_SERIES,
        patient_name="Roe^Rick",
        patient_id="MRN-0043",
        institution="St Elsewhere General",
    )
    assert upload(client, same_patient).json()["patient_key"] == record["patient_key"]
    assert upload(client, other_patient).json()["patient_key"] != record["patient_key"]


def test_explicit_site_overrides_the_dicom_institution(client: TestClient) -> None:
    data = samples.with_identity(samples.MR_SMALL, patient_name="A^B", patient_id="1", institution="Inst")
    response = upload(client, data, site="north-wing")
    assert response.json()["site"] == "north-wing"


def test_uploader_patient_id_is_only_kept_as_a_keyed_hash(client: TestClient) -> None:
    data = samples.nih_png().read_bytes()
    record = upload(client, data, patient_id="HOSP-778899").json()
    assert record["patient_key"] is not None
    assert "778899" not in record["patient_key"]


def test_render_applies_a_window(client: TestClient) -> None:
    record = upload(client, samples.dicom(samples.CT_SMALL).read_bytes()).json()
    narrow = client.get(
        f"/api/v1/images/{record['id']}/render", params={"window_center": 40, "window_width": 80}
    )
    wide = client.get(
        f"/api/v1/images/{record['id']}/render", params={"window_center": 40, "window_width": 4000}
    )
    assert narrow.status_code == wide.status_code == 200
    narrow_pixels = np.asarray(PILImage.open(io.BytesIO(narrow.content)))
    wide_pixels = np.asarray(PILImage.open(io.BytesIO(wide.content)))
    # A narrow window saturates far more pixels to pure black or white than a wide one.
    saturated = lambda a: np.mean((a == 0) | (a == 255))  # noqa: E731
    assert saturated(narrow_pixels) > saturated(wide_pixels) + 0.1

    bad = client.get(f"/api/v1/images/{record['id']}/render", params={"window_width": 0})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"


def test_unknown_image_id_is_404_with_the_envelope(client: TestClient) -> None:
    for path in ("", "/render", "/file"):
        response = client.get(f"/api/v1/images/00000000-0000-0000-0000-000000000000{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    malformed = client.get("/api/v1/images/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_error"
