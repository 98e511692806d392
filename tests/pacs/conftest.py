"""Tests against a real PACS (Orthanc): skipped only where Orthanc is not installed (CI installs it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from imaging_ai.api.app import register_model_versions
from imaging_ai.api.state import AppState
from imaging_ai.dicom_net.listener import DicomListener, listener_for
from imaging_ai.persistence.models import Image, Prediction
from imaging_ai.settings import DicomCaller, Settings
from tests.accounts import create_api_key, database
from tests.live_server import serve
from tests.pacs.orthanc import Orthanc, orthanc_available, running_orthanc


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if orthanc_available():
        return
    skip = pytest.mark.skip(reason="Orthanc is not installed (scripts/test.sh installs it)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    """A bare Orthanc (no modalities, no DICOMweb servers) in the test's temporary directory."""
    with running_orthanc(tmp_path / "orthanc") as server:
        yield server


# --- the product's side: settings that let Orthanc send, the listener, the live API -----------------

PACS_AET = "ORTHANC"
SITE = "north"


@pytest.fixture
def pacs_settings(settings: Settings) -> Settings:
    """The suite's settings (a real database of each kind) with Orthanc's AE title allowed to send."""
    return settings.model_copy(update={"dicom_callers": {PACS_AET: DicomCaller(site=SITE)}})


@pytest.fixture
def listener(pacs_settings: Settings) -> Iterator[DicomListener]:
    """The real DICOM listener on a free loopback port, with its own app state (as `dicom-listener`)."""
    state = AppState.build(pacs_settings)
    register_model_versions(state)
    server = listener_for(state, port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        state.engine.dispose()


@pytest.fixture
def product_url(pacs_settings: Settings) -> Iterator[str]:
    """The real app served by uvicorn on a loopback port."""
    with serve(pacs_settings) as url:
        yield url


@pytest.fixture
def session_factory(pacs_settings: Settings) -> Iterator[sessionmaker[Session]]:
    with database(pacs_settings) as factory:
        yield factory


@pytest.fixture
def api_key(session_factory: sessionmaker[Session]) -> str:
    """A PACS gateway's API key (scopes predict and read)."""
    return create_api_key(session_factory, "pacs-gateway", ("predict", "read"))


def stored_images(factory: sessionmaker[Session]) -> list[Image]:
    with factory() as session:
        return list(session.scalars(select(Image).order_by(Image.instance_number)))


def stored_predictions(factory: sessionmaker[Session]) -> list[Prediction]:
    with factory() as session:
        return list(session.scalars(select(Prediction)))
