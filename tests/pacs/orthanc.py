"""A real Orthanc PACS started as a plain process for a test: generated configuration, loopback ports.

No systemd and no shared state: each use gets its own storage and index in `directory`, its own free HTTP
and DICOM ports on 127.0.0.1, the DICOMweb plugin enabled, and is stopped (terminate, then SIGKILL) when
the context ends.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
ORTHANC_PLUGINS = Path("/usr/share/orthanc/plugins")
ORTHANC_AET = "ORTHANC"


def orthanc_available() -> bool:
    return ORTHANC_BINARY.is_file() and (ORTHANC_PLUGINS / "libOrthancDicomWeb.so").is_file()


@dataclass(frozen=True)
class Orthanc:
    http_url: str
    dicom_port: int
    aet: str

    @property
    def dicomweb_url(self) -> str:
        return self.http_url + "/dicom-web"

    def upload(self, files: list[bytes]) -> str:
        """Puts DICOM files of one study into Orthanc (its REST API); returns Orthanc's id of the study."""
        study_ids = set()
        for data in files:
            answer = httpx.post(f"{self.http_url}/instances", content=data, timeout=30)
            assert answer.status_code == 200, answer.text
            study_ids.add(answer.json()["ParentStudy"])
        (study_id,) = study_ids
        return str(study_id)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def orthanc_configuration(
    directory: Path,
    *,
    http_port: int,
    dicom_port: int,
    modalities: dict[str, tuple[str, str, int]] | None = None,
    dicomweb_servers: dict[str, dict[str, object]] | None = None,
) -> dict[str, object]:
    """The configuration file's content: `modalities` maps an id to (AE title, host, port)."""
    return {
        "Name": "imaging-ai-test-orthanc",
        "StorageDirectory": str(directory / "storage"),
        "IndexDirectory": str(directory / "index"),
        "Plugins": [str(ORTHANC_PLUGINS)],
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "DicomServerEnabled": True,
        "DicomAet": ORTHANC_AET,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpTimeout": 60,
        "DicomScuTimeout": 30,
        "DicomModalities": {
            name: [aet, host, port] for name, (aet, host, port) in (modalities or {}).items()
        },
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "Servers": dicomweb_servers or {},
        },
        "StableAge": 1,
        "SaveJobs": False,
        "ConcurrentJobs": 2,
    }


def _stop(process: subprocess.Popen[bytes], *, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@contextmanager
def running_orthanc(
    directory: Path,
    *,
    modalities: dict[str, tuple[str, str, int]] | None = None,
    dicomweb_servers: dict[str, dict[str, object]] | None = None,
    startup_timeout: float = 30,
) -> Iterator[Orthanc]:
    """Starts Orthanc with its storage in `directory`; yields once `GET /system` answers; stops it after.

    `modalities`: id -> (AE title, host, port), Orthanc's `DicomModalities` (targets of
    `POST /modalities/{id}/store`). `dicomweb_servers`: Orthanc's `DicomWeb.Servers` (targets of
    `POST /dicom-web/servers/{id}/stow`), e.g. {"product": {"Url": ..., "HttpHeaders": {...}}}.
    """
    directory.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = _free_port(), _free_port()
    while dicom_port == http_port:
        dicom_port = _free_port()
    configuration = orthanc_configuration(
        directory,
        http_port=http_port,
        dicom_port=dicom_port,
        modalities=modalities,
        dicomweb_servers=dicomweb_servers,
    )
    config_path = directory / "orthanc.json"
    config_path.write_text(json.dumps(configuration, indent=2))
    log_path = directory / "orthanc.log"
    http_url = f"http://127.0.0.1:{http_port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ORTHANC_BINARY), str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"Orthanc exited with {process.returncode}: {_tail(log_path)}")
                try:
                    if httpx.get(f"{http_url}/system", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Orthanc did not answer within {startup_timeout} s: {_tail(log_path)}"
                    )
                time.sleep(0.1)
            yield Orthanc(http_url=http_url, dicom_port=dicom_port, aet=ORTHANC_AET)
        finally:
            _stop(process)


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""
