"""STOW-RS and the pull, against a real Orthanc: it stores studies in the product over DICOMweb, and the
product pulls a study from it by UID."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.settings import Settings
from tests.accounts import bearer
from tests.live_server import serve
from tests.pacs.conftest import SITE, stored_images, stored_predictions
from tests.pacs.dicom_files import (
    STOW_TYPE,
    garbled_pixels,
    make_study,
    multipart,
    planted_identity_in,
    sop_uids,
    truncated,
)
from tests.pacs.orthanc import running_orthanc

ONLY_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _stored_files(settings: Settings) -> list[bytes]:
    return [path.read_bytes() for path in settings.images_dir.rglob("*") if path.is_file()]


def test_orthanc_stores_a_study_over_stow_rs(
    tmp_path: Path,
    pacs_settings: Settings,
    product_url: str,
    api_key: str,
    session_factory: sessionmaker[Session],
) -> None:
    study_uid, files = make_study(count=3, series=1)
    servers: dict[str, dict[str, object]] = {
        "product": {
            "Url": f"{product_url}/dicom-web/",
            "HttpHeaders": {"Authorization": f"Bearer {api_key}"},
        }
    }
    with running_orthanc(tmp_path / "orthanc", dicomweb_servers=servers) as orthanc:
        study_id = orthanc.upload(files)
        sent = httpx.post(
            f"{orthanc.http_url}/dicom-web/servers/product/stow",
            json={"Resources": [study_id], "Synchronous": True},
            timeout=120,
        )
        assert sent.status_code == 200, sent.text
    images = stored_images(session_factory)
    assert [image.instance_number for image in images] == [1, 2, 3]
    assert len({image.study_instance_uid for image in images}) == 1
    assert images[0].study_instance_uid != study_uid
    assert {image.sop_instance_uid for image in images}.isdisjoint({sop_uids(f)[1] for f in files})
    assert len(stored_predictions(session_factory)) == 3
    # No site given: the instance's institution, as for uploads (the sample has none) or none at all.
    assert all(not planted_identity_in(blob) for blob in _stored_files(pacs_settings))


def test_stow_keeps_good_parts_and_names_the_refused_ones(
    product_url: str, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    study_uid, files = make_study(count=4)
    cut, garbled = truncated(files[1]), garbled_pixels(files[2])
    body, content_type = multipart([files[0], cut, garbled, files[3]])
    answer = httpx.post(
        f"{product_url}/dicom-web/studies/{study_uid}",
        params={"site": SITE},
        content=body,
        headers={**bearer(api_key), "Content-Type": content_type, "Accept": "application/dicom+json"},
        timeout=120,
    )
    assert answer.status_code == 202, answer.text
    assert answer.headers["content-type"].startswith("application/dicom+json")
    dataset = answer.json()
    stored = dataset["00081199"]["Value"]
    failed = dataset["00081198"]["Value"]
    assert [item["00081155"]["Value"][0] for item in stored] == [sop_uids(files[0])[1], sop_uids(files[3])[1]]
    assert {item["00081155"]["Value"][0] for item in failed} == {sop_uids(files[1])[1], sop_uids(files[2])[1]}
    for item in failed:
        assert item["00081197"]["Value"] == [0xC000]
        assert item["00771010"]["Value"][0]  # the stable error code
        assert item["00771011"]["Value"][0]  # and its explanation
    for item in stored:
        assert uuid.UUID(item["00771001"]["Value"][0]) and uuid.UUID(item["00771002"]["Value"][0])
    assert len(stored_images(session_factory)) == 2
    assert {image.site for image in stored_images(session_factory)} == {SITE}

    # The same instance again: the earlier answer, marked as received before (200, nothing new).
    again_body, again_type = multipart([files[0]])
    again = httpx.post(
        f"{product_url}/dicom-web/studies",
        params={"site": SITE},
        content=again_body,
        headers={**bearer(api_key), "Content-Type": again_type},
        timeout=60,
    )
    assert again.status_code == 200, again.text
    item = again.json()["00081199"]["Value"][0]
    assert item["00771004"]["Value"] == ["RECEIVED_BEFORE"]
    assert item["00771002"] == stored[0]["00771002"]
    assert len(stored_predictions(session_factory)) == 2


@ONLY_SQLITE
def test_stow_refusals_of_the_whole_request(
    product_url: str, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    study_uid, files = make_study(count=1)
    headers = bearer(api_key)
    # Another study than the URL's: refused per instance (0xA900), all refused: 409.
    body, content_type = multipart(files)
    mismatch = httpx.post(
        f"{product_url}/dicom-web/studies/1.2.3.4",
        content=body,
        headers={**headers, "Content-Type": content_type},
        timeout=60,
    )
    assert mismatch.status_code == 409, mismatch.text
    (item,) = mismatch.json()["00081198"]["Value"]
    assert item["00081197"]["Value"] == [0xA900] and item["00771010"]["Value"] == ["study_mismatch"]
    # Not multipart/related: 415 with a stable code, as JSON.
    plain = httpx.post(
        f"{product_url}/dicom-web/studies",
        content=files[0],
        headers={**headers, "Content-Type": "application/dicom"},
        timeout=30,
    )
    assert plain.status_code == 415 and plain.json()["error"]["code"] == "unsupported_media_type"
    xml = httpx.post(
        f"{product_url}/dicom-web/studies",
        content=body,
        headers={
            **headers,
            "Content-Type": content_type.replace("application/dicom", "application/dicom+xml"),
        },
        timeout=30,
    )
    assert xml.status_code == 415
    no_boundary = httpx.post(
        f"{product_url}/dicom-web/studies",
        content=body,
        headers={**headers, "Content-Type": STOW_TYPE},
        timeout=30,
    )
    assert no_boundary.status_code == 400 and no_boundary.json()["error"]["code"] == "invalid_multipart"
    # No key: refused before anything is read.
    anonymous = httpx.post(
        f"{product_url}/dicom-web/studies", content=body, headers={"Content-Type": content_type}, timeout=30
    )
    assert anonymous.status_code == 401
    assert stored_images(session_factory) == []
    del study_uid


@ONLY_SQLITE
def test_the_product_pulls_a_study_from_orthanc(
    tmp_path: Path, pacs_settings: Settings, session_factory: sessionmaker[Session], api_key: str
) -> None:
    study_uid, files = make_study(count=3, series=2)
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(files)
        settings = pacs_settings.model_copy(
            update={"dicomweb_source_url": orthanc.dicomweb_url, "dicomweb_source_site": "pulled"}
        )
        with serve(settings) as url:
            headers = bearer(api_key)
            pulled = httpx.post(
                f"{url}/api/v1/pacs/imports",
                json={"study_instance_uid": study_uid},
                headers=headers,
                timeout=120,
            )
            assert pulled.status_code == 200, pulled.text
            result = pulled.json()
            assert result["stored"] == 3 and result["refused"] == 0 and result["site"] == "pulled"
            assert all(item["prediction_id"] for item in result["instances"])
            again = httpx.post(
                f"{url}/api/v1/pacs/imports",
                json={"study_instance_uid": study_uid},
                headers=headers,
                timeout=120,
            )
            assert all(item["received_before"] for item in again.json()["instances"])
            missing = httpx.post(
                f"{url}/api/v1/pacs/imports",
                json={"study_instance_uid": "1.2.3.4.5"},
                headers=headers,
                timeout=60,
            )
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "study_not_found"
        unreachable_url = orthanc.dicomweb_url
    images = stored_images(session_factory)
    assert len(images) == 3 and len({image.series_instance_uid for image in images}) == 2
    assert {image.site for image in images} == {"pulled"}
    assert all(not planted_identity_in(blob) for blob in _stored_files(pacs_settings))
    # Orthanc is gone now: 502 pacs_unreachable. Without a source URL: 409 pacs_not_configured.
    with serve(pacs_settings.model_copy(update={"dicomweb_source_url": unreachable_url})) as url:
        gone = httpx.post(
            f"{url}/api/v1/pacs/imports",
            json={"study_instance_uid": study_uid},
            headers=bearer(api_key),
            timeout=60,
        )
        assert gone.status_code == 502 and gone.json()["error"]["code"] == "pacs_unreachable"
    with serve(pacs_settings) as url:
        unset = httpx.post(
            f"{url}/api/v1/pacs/imports",
            json={"study_instance_uid": study_uid},
            headers=bearer(api_key),
            timeout=60,
        )
        assert unset.status_code == 409 and unset.json()["error"]["code"] == "pacs_not_configured"
