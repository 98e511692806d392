"""No patient data outside DICOM either, and strict input values (issue #13), on SQLite and PostgreSQL.

PNG/JPEG metadata is stripped before storage, accession numbers and external ids are kept as keyed
hashes, control characters are refused in every text field, out-of-range date-times and non-finite
render windows are 422s, never 500s.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import select

from imaging_ai.persistence.models import Prediction
from imaging_ai.services.cases.images import pseudonymise
from tests import samples
from tests.api.conftest import app_state, image_rows, stored_files
from tests.imaging.hostile_files import PATIENT_TEXT, hostile_jpeg, hostile_png, pixels

CXR = "chest-xray-pneumonia"
KEY = b"test-pseudonym-key"  # the key of the `settings` fixture


def _stored_bytes(client: TestClient) -> list[bytes]:
    root = app_state(client).blob_store.root
    return [path.read_bytes() for path in root.rglob("*") if path.is_file()]


def _assert_clean(data: bytes) -> None:
    for text in PATIENT_TEXT:
        assert text.encode() not in data
    for marker in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"Exif", b"ICC_PROFILE", b"\xff\xfe"):
        assert marker not in data


def _same_pixels(a: bytes, b: bytes) -> None:
    with PILImage.open(io.BytesIO(a)) as first, PILImage.open(io.BytesIO(b)) as second:
        assert first.size == second.size
        assert np.array_equal(np.asarray(first), np.asarray(second))


def _error_types(response) -> set[str]:  # type: ignore[no-untyped-def]
    body = response.json()
    assert body["error"]["code"] == "validation_error", body
    return {error["type"] for error in body["error"]["details"]["errors"]}


# --- 1. PNG and JPEG metadata -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "media_type"), [(hostile_png, "image/png"), (hostile_jpeg, "image/jpeg")], ids=["png", "jpeg"]
)
def test_png_and_jpeg_are_stored_without_their_metadata(client: TestClient, make, media_type: str) -> None:  # type: ignore[no-untyped-def]
    original = make()
    assert b"DOE^JOHN" in original
    response = client.post("/api/v1/images", files={"file": ("x", original)}, data={"site": "nih"})
    assert response.status_code == 201, response.text
    record = response.json()
    served = client.get(f"/api/v1/images/{record['id']}/file")
    assert served.status_code == 200 and served.headers["content-type"] == media_type
    _assert_clean(served.content)
    _same_pixels(original, served.content)
    # Content addressing is of the stored bytes; nothing unstripped reached the store.
    assert record["content_sha256"] == hashlib.sha256(served.content).hexdigest()
    assert record["size_bytes"] == len(served.content) < len(original)
    stored = _stored_bytes(client)
    assert stored == [served.content]


def test_a_prediction_upload_is_stripped_too(client: TestClient) -> None:
    original = hostile_jpeg("L")
    response = client.post(
        "/api/v1/predictions", files={"file": ("x.jpg", original)}, data={"task": CXR, "site": "nih"}
    )
    assert response.status_code == 201, response.text
    served = client.get(f"/api/v1/images/{response.json()['image_id']}/file").content
    _assert_clean(served)
    _same_pixels(original, served)


def test_uploads_differing_only_in_metadata_are_one_image(client: TestClient) -> None:
    """Deduplication is by the stripped bytes: the same pixels with other (or no) text are the same image."""
    first = client.post("/api/v1/images", files={"file": ("a.png", hostile_png("L"))})
    assert first.status_code == 201, first.text
    plain = io.BytesIO()
    pixels("L").save(plain, format="PNG")
    second = client.post("/api/v1/images", files={"file": ("b.png", plain.getvalue())})
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert image_rows(client) == 1 and len(stored_files(client)) == 1


# --- 2. Accession numbers and external ids ------------------------------------------------------


def test_accession_number_and_external_id_are_kept_and_returned_as_keyed_hashes(client: TestClient) -> None:
    response = client.post(
        "/api/v1/predictions",
        files={"file": ("x.png", samples.nih_png().read_bytes())},
        data={"task": CXR, "accession_number": "ACC-2026-0001", "external_id": "ris-9"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    accession, external = pseudonymise("ACC-2026-0001", KEY), pseudonymise("ris-9", KEY)
    assert (body["accession_number"], body["external_id"]) == (accession, external)
    assert "ACC-2026-0001" not in response.text and "ris-9" not in response.text
    with app_state(client).session_factory() as session:
        row = session.scalars(select(Prediction)).one()
        assert (row.accession_number, row.external_id) == (accession, external)

    def listed(**query: str) -> list[str]:
        page = client.get("/api/v1/predictions", params=query)
        assert page.status_code == 200, page.text
        return [item["id"] for item in page.json()["items"]]

    # Filters take the hospital's value and hash it as it was hashed when stored.
    assert listed(accession_number="ACC-2026-0001") == [body["id"]]
    assert listed(external_id=" ris-9 ") == [body["id"]]
    assert listed(accession_number="ACC-2026-0002") == []
    assert listed(accession_number="ACC-2026-0001", external_id="other") == []


# --- 3. Control characters ----------------------------------------------------------------------

_RANDOM = "5f0c6a2e-8d7b-4c1e-9a3f-2b6d8e4f1a90"  # any id no record has; fixed, so test ids are stable


@pytest.mark.parametrize("bad", ["a\x00b", "a\x1bb", "a\nb", "a\x7fb", "a\x85b"], ids=repr)
@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("post", "/api/v1/images", "form:site"),
        ("post", "/api/v1/images", "form:patient_id"),
        ("post", "/api/v1/predictions", "form:task"),
        ("post", "/api/v1/predictions", "form:accession_number"),
        ("post", "/api/v1/predictions", "form:external_id"),
        ("get", "/api/v1/predictions", "query:site"),
        ("get", "/api/v1/predictions", "query:accession_number"),
        ("get", f"/api/v1/predictions/{_RANDOM}/heatmap", "query:label"),
        ("get", "/api/v1/worklist", "query:site"),
        ("get", "/api/v1/audit", "query:actor"),
        ("get", "/api/v1/alerts", "query:task"),
        ("get", "/api/v1/training-jobs", "query:task"),
        ("get", f"/api/v1/tasks/{CXR}/metrics", "query:version"),
        ("get", "/api/v1/tasks/{}", "path"),
        ("get", "/api/v1/models/{}", "path"),
        ("post", "/api/v1/auth/login", "json:username"),
        ("post", "/api/v1/users", "json:username"),
        ("post", "/api/v1/users", "json:display_name"),
        ("post", f"/api/v1/users/{_RANDOM}/api-keys", "json:name"),
        ("post", f"/api/v1/predictions/{_RANDOM}/feedback", "json:label"),
        ("post", "/api/v1/training-jobs", "json:site"),
        ("put", f"/api/v1/tasks/{CXR}/autonomy", "json:site"),
        ("post", f"/api/v1/models/{CXR}.v1/promote", "json:site"),
    ],
)
def test_control_characters_are_refused_in_every_text_field(
    client: TestClient, method: str, path: str, kind: str, bad: str
) -> None:
    where, _, name = kind.partition(":")
    bodies: dict[str, dict[str, object]] = {
        "/api/v1/auth/login": {"username": "x", "password": "p" * 12},
        "/api/v1/users": {"username": "new.user", "roles": ["clinician"]},
        f"/api/v1/users/{_RANDOM}/api-keys": {"name": "k", "scopes": ["read"]},
        "/api/v1/training-jobs": {"task": CXR},
        f"/api/v1/tasks/{CXR}/autonomy": {"site": "nih", "level": "supervised", "reason": "board"},
        f"/api/v1/models/{CXR}.v1/promote": {"reason": "board"},
        f"/api/v1/predictions/{_RANDOM}/feedback": {"verdict": "disagree", "label": "normal"},
    }
    options: dict[str, object] = {}
    if where == "form":
        form = {"task": CXR, name: bad}
        options = {"data": form, "files": {"file": ("x.png", samples.nih_png().read_bytes())}}
    elif where == "query":
        options = {"params": {name: bad}}
    elif where == "json":
        options = {"json": {**bodies[path], name: bad}}
    else:
        path = path.format(bad.replace("\x00", "%00").replace("\x1b", "%1B").replace("\n", "%0A"))
        path = path.replace("\x7f", "%7F").replace("\x85", "%C2%85")
    response = getattr(client, method)(path, **options)
    assert response.status_code == 422, (response.status_code, response.text)
    assert "control_character" in _error_types(response)
    assert bad not in response.text  # the offending value is never echoed


def test_free_text_keeps_tabs_and_line_breaks_but_not_other_controls(client: TestClient) -> None:
    prediction = client.post(
        "/api/v1/predictions",
        files={"file": ("x.png", samples.nih_png().read_bytes())},
        data={"task": CXR, "site": "nih"},
    ).json()
    path = f"/api/v1/predictions/{prediction['id']}/feedback"
    refused = client.post(path, json={"verdict": "agree", "notes": "ok\x00"})
    assert refused.status_code == 422 and _error_types(refused) == {"control_character"}
    notes = "Old scarring,\tno consolidation.\r\nSecond line."
    accepted = client.post(path, json={"verdict": "agree", "notes": notes})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["notes"] == notes
    reason = client.post(f"/api/v1/models/{CXR}.v1/promote", json={"reason": "board\x07"})
    assert reason.status_code == 422 and _error_types(reason) == {"control_character"}


# --- 4. Date-time filters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/api/v1/predictions", "created_before", "9999-12-31T23:59:59-14:00"),
        ("/api/v1/predictions", "created_after", "0001-01-01T00:00:00+14:00"),
        ("/api/v1/audit", "since", "0001-01-01T00:00:00+14:00"),
        ("/api/v1/audit", "until", "9999-12-31T23:59:59-14:00"),
    ],
)
def test_a_date_time_out_of_range_in_utc_is_a_422(
    client: TestClient, path: str, name: str, value: str
) -> None:
    response = client.get(path, params={name: value})
    assert response.status_code == 422, response.text
    assert _error_types(response) == {"datetime_out_of_range"}
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "after", "before"),
    [("/api/v1/predictions", "created_after", "created_before"), ("/api/v1/audit", "since", "until")],
)
def test_every_valid_date_time_filters(client: TestClient, path: str, after: str, before: str) -> None:
    client.post(
        "/api/v1/predictions", files={"file": ("x.png", samples.nih_png().read_bytes())}, data={"task": CXR}
    )
    # An audit event (a refused sign-in is always recorded).
    client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12})

    def total(**query: str) -> int:
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    everything = total()
    assert everything >= 1
    extremes = {after: "0001-01-01T00:00:00+00:00", before: "9999-12-31T23:59:59.999999+00:00"}
    assert total(**extremes) == everything
    # The same instants written with other offsets: converted to UTC, not compared as written.
    assert total(**{after: "0001-01-01T13:59:59-14:00", before: "9999-12-31T23:59:59+00:00"}) == everything
    assert total(**{after: "9999-12-31T10:00:00+14:00"}) == 0
    assert total(**{before: "0001-01-01T00:00:00-10:00"}) == 0


# --- 5. Render windows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "error_type"),
    [
        ({"window_center": "nan", "window_width": "400"}, "finite_number"),
        ({"window_center": "inf", "window_width": "400"}, "finite_number"),
        ({"window_center": "-inf"}, "finite_number"),
        ({"window_center": "1e308", "window_width": "400"}, "less_than_equal"),
        ({"window_center": "-1e308"}, "greater_than_equal"),
        ({"window_center": "40", "window_width": "nan"}, "finite_number"),
        ({"window_center": "40", "window_width": "1e308"}, "less_than_equal"),
        ({"window_center": "40", "window_width": "0"}, "greater_than"),
        ({"window_center": "40", "window_width": "-400"}, "greater_than"),
    ],
)
def test_non_finite_or_absurd_windows_are_refused(
    client: TestClient, query: dict[str, str], error_type: str
) -> None:
    image = client.post("/api/v1/images", files={"file": ("x.png", samples.nih_png().read_bytes())}).json()
    response = client.get(f"/api/v1/images/{image['id']}/render", params=query)
    assert response.status_code == 422, response.text
    assert _error_types(response) == {error_type}
    ok = client.get(
        f"/api/v1/images/{image['id']}/render", params={"window_center": "-1e9", "window_width": "2e9"}
    )
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
