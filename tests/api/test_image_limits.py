"""Issue #13 through the API: bombs refused cleanly, renders served from renditions, and no decode
inside a database transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from pydicom.uid import JPEG2000Lossless
from sqlalchemy import text

from imaging_ai.imaging.decode import decode_slot
from imaging_ai.imaging.rendition import RENDITION_NAME
from imaging_ai.settings import Settings
from tests import samples
from tests.accounts import bearer, create_api_key, database
from tests.api.conftest import app_state, image_rows, stored_files
from tests.imaging import bombs
from tests.live_server import serve

BOMBS: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "dicom with a 16000 x 16000 jpeg 2000": (bombs.dicom_j2k_bomb, 413, "image_too_large"),
    "dicom with a 16000 x 16000 jpeg": (bombs.dicom_jpeg_bomb, 413, "image_too_large"),
    "jpeg 2000 in 65,280 tiles": (bombs.j2k_tile_bomb, 422, "too_many_tiles"),
    "codestream larger than rows and columns": (
        lambda: bombs.dicom_with_frame(bombs.j2k_header(2000, 2000), JPEG2000Lossless),
        422,
        "codestream_size_mismatch",
    ),
    "plain jpeg of 20000 x 20000": (lambda: bombs.jpeg_header(20000, 20000), 413, "image_too_large"),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_bombs_are_refused_with_a_code_and_nothing_stored(client: TestClient, case: str) -> None:
    make, status, code = BOMBS[case]
    started = time.perf_counter()
    response = client.post("/api/v1/images", files={"file": ("x.bin", make())})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert time.perf_counter() - started < 2
    assert image_rows(client) == 0
    assert stored_files(client) == []


def _upload_large(client: TestClient) -> tuple[str, str]:
    response = client.post("/api/v1/images", files={"file": ("big.png", bombs.large_png(3000))})
    assert response.status_code == 201, response.text
    record = response.json()
    return record["id"], record["content_sha256"]


def test_large_images_get_a_rendition_that_serves_viewer_sized_renders(client: TestClient) -> None:
    image_id, sha256 = _upload_large(client)
    store = app_state(client).blob_store
    rendition = store.derived_path(sha256, RENDITION_NAME)
    assert rendition.is_file()
    viewer = client.get(f"/api/v1/images/{image_id}/render", params={"size": 2048})
    windowed = client.get(
        f"/api/v1/images/{image_id}/render", params={"size": 512, "window_center": 100, "window_width": 50}
    )
    assert viewer.status_code == windowed.status_code == 200
    # Without the original, viewer-sized renders still come (from the rendition); a full-size one cannot.
    original = store.path_for(sha256).read_bytes()
    store.path_for(sha256).unlink()
    assert client.get(f"/api/v1/images/{image_id}/render", params={"size": 2048}).content == viewer.content
    assert client.get(f"/api/v1/images/{image_id}/render").json()["error"]["code"] == "image_file_missing"
    # A lost rendition is made again from the original on the next view.
    store.path_for(sha256).write_bytes(original)
    rendition.unlink()
    again = client.get(f"/api/v1/images/{image_id}/render", params={"size": 2048})
    assert again.content == viewer.content
    assert rendition.is_file()


def test_small_images_get_no_rendition(client: TestClient) -> None:
    response = client.post("/api/v1/images", files={"file": ("s.png", samples.nih_png().read_bytes())})
    sha256 = response.json()["content_sha256"]
    assert not app_state(client).blob_store.derived_path(sha256, RENDITION_NAME).exists()


@pytest.fixture
def one_decode_server(settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    with database(settings) as factory:
        key = bearer(create_api_key(factory, "pacs-gateway", ("predict", "read")))
    with serve(settings.model_copy(update={"max_concurrent_decodes": 1})) as url:
        yield url, key


def _waits_outside_a_transaction(
    settings: Settings, url: str, key: dict[str, str], path: str, *, form: dict[str, str] | None = None
) -> None:
    """Hold the only decode slot; the request must then be waiting for it with its transaction over:
    no connection checked out, and another writer gets the database at once (on SQLite every
    transaction holds the write lock)."""
    with database(settings) as factory, ThreadPoolExecutor(1) as pool:
        with decode_slot():
            if form is None:
                pending = pool.submit(httpx.get, f"{url}{path}", headers=key, timeout=60)
            else:
                pending = pool.submit(httpx.post, f"{url}{path}", data=form, headers=key, timeout=60)
            time.sleep(1.0)
            assert not pending.done(), "the request did not wait for a decode slot"
            started = time.perf_counter()
            with factory() as session, session.begin():
                session.execute(text("SELECT 1"))
            assert time.perf_counter() - started < 2
        response = pending.result(timeout=60)
    assert response.status_code in (200, 201), response.text


def test_render_decodes_after_its_transaction_ends(
    settings: Settings, one_decode_server: tuple[str, dict[str, str]]
) -> None:
    url, key = one_decode_server
    with samples.nih_png().open("rb") as handle:
        image = httpx.post(f"{url}/api/v1/images", files={"file": ("a.png", handle.read())}, headers=key)
    _waits_outside_a_transaction(settings, url, key, f"/api/v1/images/{image.json()['id']}/render")


def test_heatmap_decodes_after_its_transaction_ends(
    settings: Settings, one_decode_server: tuple[str, dict[str, str]]
) -> None:
    url, key = one_decode_server
    prediction = httpx.post(
        f"{url}/api/v1/predictions",
        files={"file": ("a.png", samples.nih_png().read_bytes())},
        data={"task": "chest-xray-pneumonia"},
        headers=key,
        timeout=60,
    )
    assert prediction.status_code == 201, prediction.text
    _waits_outside_a_transaction(settings, url, key, f"/api/v1/predictions/{prediction.json()['id']}/heatmap")


def test_prediction_on_a_stored_image_decodes_after_its_transaction_ends(
    settings: Settings, one_decode_server: tuple[str, dict[str, str]]
) -> None:
    url, key = one_decode_server
    with samples.nih_png().open("rb") as handle:
        image = httpx.post(f"{url}/api/v1/images", files={"file": ("a.png", handle.read())}, headers=key)
    form = {"task": "chest-xray-pneumonia", "image_id": image.json()["id"]}
    _waits_outside_a_transaction(settings, url, key, "/api/v1/predictions", form=form)
