"""The real app with `object_store = "s3"` on a real SeaweedFS: images go to the bucket, not the disk."""

from __future__ import annotations

import hashlib
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from imaging_ai.api.app import create_app
from imaging_ai.settings import Settings
from imaging_ai.storage.blob_store import BlobStore
from imaging_ai.storage.object_store import S3ObjectStore
from tests import samples
from tests.api.conftest import app_state, sign_in_admin
from tests.imaging import bombs
from tests.storage.conftest import raw_client
from tests.storage.seaweed import SeaweedS3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_upload_render_and_download_through_s3(
    settings: Settings, s3_settings: Settings, s3_credentials: SeaweedS3
) -> None:
    on_s3 = settings.model_copy(
        update={
            key: getattr(s3_settings, key)
            for key in ("object_store", "s3_endpoint_url", "s3_bucket", "s3_prefix")
        }
    )
    data = samples.dicom(samples.CT_SMALL).read_bytes()
    large = bombs.large_png(2200)  # big enough for a rendition (a derived object beside the original)
    with TestClient(create_app(on_s3), raise_server_exceptions=False) as anonymous:
        client = sign_in_admin(anonymous)
        store = app_state(client).blob_store
        assert isinstance(store.objects, S3ObjectStore) and not store.is_local
        response = client.post("/api/v1/images", files={"file": ("ct.dcm", data)}, data={"site": "s3"})
        assert response.status_code == 201, response.text
        record = response.json()
        render = client.get(f"/api/v1/images/{record['id']}/render", params={"size": 128})
        assert render.status_code == 200, render.text
        assert PILImage.open(io.BytesIO(render.content)).size[0] <= 128
        stored = client.get(f"/api/v1/images/{record['id']}/file")
        assert stored.status_code == 200
        sha256 = hashlib.sha256(stored.content).hexdigest()
        big = client.post("/api/v1/images", files={"file": ("big.png", large)}, data={"site": "s3"})
        assert big.status_code == 201, big.text
        assert (
            client.get(f"/api/v1/images/{big.json()['id']}/render", params={"size": 512}).status_code == 200
        )
        big_sha256 = hashlib.sha256(client.get(f"/api/v1/images/{big.json()['id']}/file").content).hexdigest()
        keys = store.objects.list("")
        assert BlobStore.key_for(sha256) in keys  # the de-identified original, in the bucket
        assert BlobStore.derived_key(big_sha256, "rendition.npz") in keys  # a rendition beside its original
        assert not on_s3.images_dir.exists()  # nothing on the local disk
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text

        # Damaged in the bucket: refused with a clear error, never served.
        assert isinstance(store.objects, S3ObjectStore)
        raw_client(s3_credentials).put_object(
            Bucket=store.objects.bucket, Key=store.objects.full_key(BlobStore.key_for(sha256)), Body=b"rot"
        )
        damaged = client.get(f"/api/v1/images/{record['id']}/file")
        assert damaged.status_code == 500
        assert damaged.json()["error"]["code"] == "image_file_corrupt"
