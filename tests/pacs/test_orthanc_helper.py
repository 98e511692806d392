"""The Orthanc helper itself: starts on free ports, answers DICOMweb, stops cleanly."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.pacs.orthanc import running_orthanc
from tests.samples import CT_SMALL, dicom


def test_orthanc_starts_stores_and_stops(tmp_path: Path) -> None:
    with running_orthanc(tmp_path / "o", modalities={"peer": ("PEER", "127.0.0.1", 1)}) as server:
        assert server.aet == "ORTHANC"
        assert server.dicomweb_url == server.http_url + "/dicom-web"
        stored = httpx.post(f"{server.http_url}/instances", content=dicom(CT_SMALL).read_bytes())
        assert stored.status_code == 200
        studies = httpx.get(f"{server.dicomweb_url}/studies", timeout=10)
        assert studies.status_code == 200 and len(studies.json()) == 1
        assert httpx.get(f"{server.http_url}/modalities").json() == ["peer"]
        url = server.http_url
    try:
        httpx.get(f"{url}/system", timeout=1)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("Orthanc still answers after the context ended")
