"""The object-store contract, on the local folder and on a real S3 (SeaweedFS)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imaging_ai.storage.blob_store import BlobIntegrityError, BlobNotFoundError, BlobStore
from imaging_ai.storage.object_store import (
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    validate_key,
)

Tamper = Callable[[ObjectStore, str, bytes], None]


def test_put_get_exists_delete_list(object_store: ObjectStore) -> None:
    object_store.put("a/b/one", b"1")
    object_store.put("a/b/one.rendition", b"r")
    object_store.put("a/c/two", b"2")
    assert object_store.get("a/b/one") == b"1"
    assert object_store.exists("a/b/one") and not object_store.exists("a/b/none")
    assert object_store.list("a/b/one") == ["a/b/one", "a/b/one.rendition"]
    assert object_store.list("a/") == ["a/b/one", "a/b/one.rendition", "a/c/two"]
    assert object_store.list("z/") == []
    object_store.put("a/b/one", b"replaced")  # put replaces (renditions, heatmaps)
    assert object_store.get("a/b/one") == b"replaced"
    object_store.delete("a/b/one")
    object_store.delete("a/b/one")  # deleting what is not there is no error
    assert not object_store.exists("a/b/one")
    assert object_store.list("a/b/") == ["a/b/one.rendition"]
    assert object_store.is_writable()


def test_missing_key_is_an_error_of_its_own(object_store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        object_store.get("no/such/key")


def test_put_if_absent_writes_once(object_store: ObjectStore) -> None:
    assert object_store.put_if_absent("k/first", b"original")
    assert not object_store.put_if_absent("k/first", b"something else")
    assert object_store.get("k/first") == b"original"
    if isinstance(object_store, LocalObjectStore):  # no temporary file left behind
        assert [p.name for p in object_store.root.rglob("*") if p.is_file()] == ["first"]


@pytest.mark.parametrize("bad", ["../x", "a/../b", "/abs", "a//b", "", "a/./b", "sp ace", "a\\b"])
def test_keys_cannot_escape(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_key(bad)


def test_concurrent_puts_of_the_same_content_store_it_once(object_store: ObjectStore, tmp_path: Path) -> None:
    blobs = BlobStore(object_store, cache_dir=tmp_path / "cache")
    data = b"the same image" * 5000
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: blobs.put(data), range(16)))
    assert sum(result.created for result in results) == 1
    assert {result.sha256 for result in results} == {hashlib.sha256(data).hexdigest()}
    assert blobs.read(results[0].sha256) == data
    assert object_store.list("") == [BlobStore.key_for(results[0].sha256)]


def test_blob_round_trip_with_renditions(object_store: ObjectStore, tmp_path: Path) -> None:
    blobs = BlobStore(object_store, cache_dir=tmp_path / "cache")
    first = blobs.put(b"pixels")
    assert first.created and not blobs.put(b"pixels").created
    other = blobs.put(b"other pixels")
    assert blobs.read(first.sha256) == b"pixels" and blobs.exists(first.sha256)
    assert blobs.read_derived(first.sha256, "rendition.npz") is None
    blobs.put_derived(first.sha256, "rendition.npz", b"small copy")
    blobs.put_derived(other.sha256, "rendition.npz", b"other copy")
    assert blobs.read_derived(first.sha256, "rendition.npz") == b"small copy"
    assert blobs.local_path(first.sha256).read_bytes() == b"pixels"  # training reads files by path
    blobs.delete(first.sha256)
    assert not blobs.exists(first.sha256)
    assert blobs.read_derived(first.sha256, "rendition.npz") is None
    with pytest.raises(BlobNotFoundError):
        blobs.read(first.sha256)
    assert blobs.read_derived(other.sha256, "rendition.npz") == b"other copy"
    assert blobs.read(other.sha256) == b"other pixels"


def test_damaged_file_is_refused_on_read(object_store: ObjectStore, tamper: Tamper, tmp_path: Path) -> None:
    blobs = BlobStore(object_store, cache_dir=tmp_path / "cache")
    blob = blobs.put(b"the original pixels")
    tamper(object_store, BlobStore.key_for(blob.sha256), b"the original pixelz")
    with pytest.raises(BlobIntegrityError) as refused:
        blobs.read(blob.sha256)
    assert refused.value.code == "image_file_corrupt" and blob.sha256 in refused.value.message
    if not blobs.is_local:  # nor copied for training
        with pytest.raises(BlobIntegrityError):
            blobs.local_path(blob.sha256)
        assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*"))


def test_heatmap_cache_on_any_store(object_store: ObjectStore) -> None:
    import uuid

    from imaging_ai.ml.runtime import ModelRuntime
    from imaging_ai.services.cases.heatmaps import HeatmapCache

    cache = HeatmapCache(ModelRuntime(1, max_batch=1), object_store)
    prediction = uuid.uuid4()
    assert cache.cached(prediction, 1) is None
    object_store.put(f"{prediction}-1.png", b"png")  # as `draw` stores it
    assert cache.cached(prediction, 1) == b"png" and cache.cached(prediction, 0) is None
