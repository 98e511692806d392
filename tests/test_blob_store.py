"""The content-addressed store: atomic, deduplicating, and immune to path tricks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from imaging_ai.storage.blob_store import BlobNotFoundError, BlobStore


def test_put_read_dedupe_delete(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first = store.put(b"pixels")
    assert first.created and first.sha256 == hashlib.sha256(b"pixels").hexdigest()
    assert store.read(first.sha256) == b"pixels"
    again = store.put(b"pixels")
    assert not again.created
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].name == first.sha256  # no temporary files left behind
    store.delete(first.sha256)
    with pytest.raises(BlobNotFoundError):
        store.read(first.sha256)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a" * 63, "A" * 64, "g" * 64, ""])
def test_paths_only_come_from_hashes(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path_for(bad)


def test_unwritable_store_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert not BlobStore(blocker / "images").is_writable()
    assert BlobStore(tmp_path / "images").is_writable()


def test_derived_files_live_beside_the_blob_and_go_with_it(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob = store.put(b"pixels")
    other = store.put(b"other pixels")
    assert store.read_derived(blob.sha256, "rendition.npz") is None
    store.put_derived(blob.sha256, "rendition.npz", b"small copy")
    store.put_derived(other.sha256, "rendition.npz", b"other copy")
    assert store.derived_path(blob.sha256, "rendition.npz").parent == store.path_for(blob.sha256).parent
    assert store.read_derived(blob.sha256, "rendition.npz") == b"small copy"
    for name in ("../escape", "a/b", "", ".hidden", "UPPER"):
        with pytest.raises(ValueError):
            store.derived_path(blob.sha256, name)
    store.delete(blob.sha256)
    assert store.read_derived(blob.sha256, "rendition.npz") is None
    assert store.read_derived(other.sha256, "rendition.npz") == b"other copy"


def test_the_deployment_store_is_the_images_folder_by_default(tmp_path: Path) -> None:
    from imaging_ai.settings import Settings
    from imaging_ai.storage.blob_store import blob_store_from

    settings = Settings(data_dir=tmp_path / "data")
    store = blob_store_from(settings)
    assert store.is_local and store.root == settings.images_dir
    blob = store.put(b"pixels")
    assert store.path_for(blob.sha256).read_bytes() == b"pixels"
    assert store.local_path(blob.sha256) == store.path_for(blob.sha256)


def test_a_damaged_file_is_refused_not_served(tmp_path: Path) -> None:
    from imaging_ai.storage.blob_store import BlobIntegrityError

    store = BlobStore(tmp_path)
    blob = store.put(b"pixels")
    store.path_for(blob.sha256).write_bytes(b"pixelz")
    with pytest.raises(BlobIntegrityError):
        store.read(blob.sha256)
