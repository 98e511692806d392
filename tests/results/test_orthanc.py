"""Against a real PACS: the worker sends a prediction's result by STOW-RS to Orthanc's DICOMweb, and what
Orthanc stored is read back: the report and heatmap reference the stored source, say what the model
answered, and carry no patient identity."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from pydicom.dataset import Dataset

from imaging_ai.persistence.models import ResultDelivery
from imaging_ai.services.training.worker import Worker
from tests import samples
from tests.pacs.orthanc import Orthanc, orthanc_available, running_orthanc
from tests.results.conftest import agree, factory_of

pytestmark = pytest.mark.skipif(not orthanc_available(), reason="Orthanc is not installed")

PATIENT_NAME = "Orthanc^Results^Patient"
PATIENT_ID = "MRN-ORTHANC-4242"


def _instance(orthanc: Orthanc, sop_instance_uid: str) -> tuple[Dataset, dict[str, object]]:
    """The file Orthanc stored for a SOP Instance UID, and its tags as Orthanc reads them."""
    found = httpx.post(
        f"{orthanc.http_url}/tools/find",
        json={"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}},
        timeout=10,
    ).json()
    assert len(found) == 1, found
    file = httpx.get(f"{orthanc.http_url}/instances/{found[0]}/file", timeout=10)
    tags = httpx.get(f"{orthanc.http_url}/instances/{found[0]}/simplified-tags", timeout=10).json()
    return pydicom.dcmread(io.BytesIO(file.content)), tags


def _content(report: Dataset) -> dict[str, Dataset]:
    return {item.ConceptNameCodeSequence[0].CodeMeaning: item for item in report.ContentSequence}


def test_the_result_of_a_final_prediction_arrives_in_orthanc_and_reads_back(
    results_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        client = results_client(results_destination_url=orthanc.dicomweb_url)
        original = samples.with_identity(
            samples.CR_UNCOMPRESSED,
            patient_name=PATIENT_NAME,
            patient_id=PATIENT_ID,
            institution="St Orthanc",
        )
        response = client.post(
            "/api/v1/predictions",
            files={"file": ("cr.dcm", original)},
            data={"task": "chest-xray-pneumonia", "site": "north"},
        )
        assert response.status_code == 201, response.text
        prediction = response.json()
        agree(client, prediction["id"])
        image = client.get(f"/api/v1/images/{prediction['image_id']}").json()

        settings = client.app.state.imaging_ai.settings  # type: ignore[attr-defined]
        worker = Worker(factory_of(client), settings, worker_id="orthanc-test")
        assert worker.deliver_results() == 1
        with factory_of(client)() as session:
            [delivery] = session.query(ResultDelivery).all()
        assert delivery.status == "sent", delivery.last_error
        heatmap_uid, report_uid = delivery.sent_sop_instance_uids

        report, report_tags = _instance(orthanc, report_uid)
        heatmap, heatmap_tags = _instance(orthanc, heatmap_uid)

        # In the source's (pseudonymised) study, each in a new series.
        for dataset in (report, heatmap):
            assert dataset.StudyInstanceUID == image["study_instance_uid"]
            assert dataset.SeriesInstanceUID != image["series_instance_uid"]
        content = _content(report)
        source = content["Source"].ReferencedSOPSequence[0]
        assert source.ReferencedSOPInstanceUID == image["sop_instance_uid"]
        assert source.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.1"  # CR
        assert (
            content["Class activation heatmap"].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            == heatmap_uid
        )
        assert content["Finding"].ConceptCodeSequence[0].CodeMeaning == prediction["predicted_label"]
        for index, (label, probability) in enumerate(prediction["probabilities"].items()):
            item = content[f"Probability of {label}"]
            assert item.ConceptNameCodeSequence[0].CodeValue == f"IAI-PROB-{index}"
            assert float(item.MeasuredValueSequence[0].NumericValue) == pytest.approx(probability, abs=1e-6)
        assert content["Algorithm Version"].TextValue == prediction["model_version"]
        assert content["Result status"].TextValue == "FINAL"
        assert content["Finalised by"].TextValue.startswith("clinician:")
        uuid.UUID(content["Finalised by"].TextValue.removeprefix("clinician:"))  # a user id, not a name
        assert report.PreliminaryFlag == "FINAL" and report.CompletionFlag == "COMPLETE"

        # The heatmap is a picture Orthanc can decode, the overlay the API serves.
        assert heatmap_tags["PhotometricInterpretation"] == "RGB"
        served = client.get(f"/api/v1/predictions/{prediction['id']}/heatmap")
        assert served.status_code == 200
        expected = np.asarray(PILImage.open(io.BytesIO(served.content)).convert("RGB"))
        assert np.array_equal(heatmap.pixel_array, expected)
        preview = httpx.get(f"{orthanc.http_url}/instances/{heatmap_tags_id(orthanc, heatmap_uid)}/preview")
        assert preview.status_code == 200 and preview.headers["content-type"].startswith("image/")

        # No patient identity and none of the original UIDs anywhere in what the PACS holds.
        source_file = pydicom.dcmread(io.BytesIO(original), stop_before_pixels=True)
        for tags in (report_tags, heatmap_tags):
            assert tags.get("PatientName", "") == "" and tags.get("PatientID", "") == ""
            text = str(tags)
            for secret in (
                PATIENT_NAME,
                PATIENT_ID,
                "St Orthanc",
                source_file.StudyInstanceUID,
                source_file.SeriesInstanceUID,
                source_file.SOPInstanceUID,
            ):
                assert secret not in text
        patients = httpx.get(f"{orthanc.http_url}/patients?expand", timeout=10).json()
        assert PATIENT_ID not in str(patients) and PATIENT_NAME not in str(patients)


def heatmap_tags_id(orthanc: Orthanc, sop_instance_uid: str) -> str:
    found = httpx.post(
        f"{orthanc.http_url}/tools/find",
        json={"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}},
        timeout=10,
    ).json()
    return str(found[0])
