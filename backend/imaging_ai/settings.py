"""Every setting of the service, read once from environment variables prefixed ``IMAGING_AI_``.

This is the single source of configuration: the CLI, the API, the worker and the migrations all
read it, and the README's settings table documents each field below.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (``backend/imaging_ai/settings.py`` -> two levels up)."""

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class DicomCaller(BaseModel):
    """Where images from one calling AE title go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(min_length=1, max_length=128)
    task: str | None = None


class Settings(BaseSettings):
    """Typed settings; every field maps to ``IMAGING_AI_<FIELD_NAME>``."""

    model_config = SettingsConfigDict(env_prefix="IMAGING_AI_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Directory for the embedded database, stored images and trained model versions.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file `<data_dir>/imaging_ai.sqlite3`. "
        "PostgreSQL: `postgresql+psycopg://user@host:5432/db`.",
    )
    model_store_dir: Path = Field(
        default=PROJECT_ROOT / "model_store",
        description="Read-only store of the shipped model versions.",
    )
    frontend_dir: Path = Field(
        default=PROJECT_ROOT / "frontend",
        description="Frontend folder; its built `dist/` (or the placeholder page) is served at `/`.",
    )
    max_upload_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest request body accepted; larger uploads are refused while streaming (413).",
    )
    max_image_pixels: int = Field(
        default=40_000_000,
        gt=0,
        description="Largest image (rows x columns of one frame) decoded; a decompression-bomb guard.",
    )
    max_concurrent_decodes: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Most images decoded at once per process (uploads, renders, heatmaps, predictions); "
        "others wait. Bounds decode memory to about this x max_image_pixels x 10 bytes.",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed by CORS (none by default: the SPA is same-origin).",
    )
    log_level: LogLevel = Field(default="INFO", description="Log level of the JSON logs.")
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Secret key for pseudonymous patient keys (HMAC of the DICOM Patient ID). "
        "Default: a random key generated once into `<data_dir>/secrets/pseudonym.key`.",
    )
    inference_max_batch: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Most concurrent prediction requests run in one forward pass (1 turns batching off).",
    )
    datasets_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "datasets",
        description="Where the base models' training data lives: replayed during adaptation, and the "
        "source test set of the promotion gate.",
    )
    auto_train_after: int = Field(
        default=50,
        ge=0,
        description="New verified training cases of a task that start a training job (0: never).",
    )
    gate_noninferiority_margin: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Promotion gate: the lower 95% bound of the paired AUC difference (candidate minus "
        "active, patients resampled) must be above minus this, at the site, the other sites and the source.",
    )
    gate_superiority_confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="Promotion gate: share of patient resamples in which the candidate's AUC must be higher "
        "at its site (0.95: equal versions are promoted about 5% of the time).",
    )
    gate_sensitivity_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Promotion gate: largest drop of sensitivity at the served operating point (two labels).",
    )
    gate_min_sequestered: int = Field(
        default=20, ge=1, description="Fewest sequestered cases that can prove a candidate better."
    )
    operating_point_min_cases: int = Field(
        default=10,
        ge=1,
        description="Fewest verified cases of each label at a site before its own decision threshold is "
        "chosen; until then the version's own threshold (from its validation data) applies.",
    )
    model_cache_size: int = Field(
        default=6,
        ge=1,
        le=64,
        description="Model versions kept loaded by a serving process (least recent go).",
    )
    worker_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often an idle worker looks for jobs."
    )
    autonomy_error_targets: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {
            "chest-xray-pneumonia": {"normal": 0.05, "pneumonia": 0.15},
            "brain-mri-tumor": {"glioma": 0.05, "meningioma": 0.05, "pituitary": 0.05},
            "chest-ct-covid": {"non_covid": 0.05, "covid": 0.15},
        },
        description="Per task and label (JSON), the largest share of answers finalised as that label that a "
        "blind reader may label otherwise: for `normal`, missed findings; for a finding, false alarms. "
        "Justified in docs/trust.md.",
    )
    autonomy_alpha: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="The chance that any label of a level is certified although its error exceeds the "
        "target, however often the evidence is looked at.",
    )
    blind_read_fraction: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Share of cases read blind (answer hidden until the verdict) at a site without its own "
        "setting, at every level; a site's level may set its own. 0: none, and then no level can ever be "
        "certified.",
    )
    learning_random_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Share of the learning queue drawn at random (the rest by the learning strategy), so "
        "that what the model learns from is never wholly chosen by the model.",
    )
    drift_window: int = Field(
        default=500, ge=50, description="Latest images of a site and version the drift test runs over."
    )
    cookie_secure: bool = Field(
        default=True,
        description="Mark the session cookies `Secure` (sent over HTTPS only). `make run` sets false for "
        "local http://127.0.0.1; keep true wherever the app is reached over a network.",
    )
    session_hours: float = Field(default=12, gt=0, le=24 * 30, description="Lifetime of a web session.")
    login_max_failures_per_account: int = Field(
        default=5, ge=1, description="Failed sign-ins of one user name that lock it for the lockout window."
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, description="Failed sign-ins from one client address that block it for the window."
    )
    login_lockout_minutes: float = Field(
        default=15, gt=0, description="The throttling window: failures are counted over it, locks last it."
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses (or networks) of reverse proxies whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` `serve` trusts for the client address (audit log, sign-in throttling). Empty "
        "(the default): none, not even loopback; the address is the connection's peer.",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `serve` listens on.")
    dicom_listener: bool = Field(
        default=True,
        description="Run the DICOM listener (C-STORE and C-ECHO) beside the API in `make run`.",
    )
    dicom_host: str = Field(default="127.0.0.1", description="Address the DICOM listener binds to.")
    dicom_port: int = Field(default=11112, ge=1, le=65535, description="Port of the DICOM listener.")
    dicom_ae_title: str = Field(
        default="IMAGING_AI", min_length=1, max_length=16, description="The listener's own AE title."
    )
    dicom_callers: dict[str, DicomCaller] = Field(
        default_factory=dict,
        description="Calling AE titles allowed to send (JSON), each with the `site` its images belong to "
        'and optionally the `task` they are for, e.g. `{"PACS1": {"site": "north", "task": '
        '"chest-xray-pneumonia"}}`. Without a task, it is chosen from the modality and body part. Any '
        "other caller is refused at association. Empty (the default): nobody may send.",
    )
    dicomweb_source_url: str | None = Field(
        default=None,
        description="Base URL of a DICOMweb server (QIDO-RS/WADO-RS) that `POST /api/v1/pacs/imports` "
        "pulls studies from, e.g. `http://pacs:8042/dicom-web`.",
    )
    dicomweb_source_site: str | None = Field(
        default=None, description="The site label of images pulled from `dicomweb_source_url`."
    )
    results_destination_url: str | None = Field(
        default=None,
        description="DICOMweb base URL that results (a Structured Report and a heatmap image per "
        "prediction) are sent to by STOW-RS. Unset: results are not sent.",
    )
    results_send_when: Literal["final", "immediately"] = Field(
        default="final",
        description="Send results once a prediction is final (a clinician's verdict or an autonomous rule), "
        "or at once, marked preliminary.",
    )
    results_max_attempts: int = Field(
        default=8, ge=1, description="Delivery attempts of one result before it is marked failed."
    )
    object_store: Literal["local", "s3"] = Field(
        default="local",
        description="Where images, heatmaps and trained model versions are kept: `local` files under "
        "`data_dir` (one machine), or an S3-compatible object store shared by every replica and worker.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint, e.g. `http://seaweedfs:8333` (unset: AWS's). Credentials come from the "
        "standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` environment variables.",
    )
    s3_bucket: str = Field(default="imaging-ai", min_length=3, max_length=63, description="The S3 bucket.")
    s3_region: str = Field(default="us-east-1", description="The S3 region (any value for SeaweedFS/MinIO).")
    s3_prefix: str = Field(
        default="",
        max_length=200,
        description="Key prefix in the bucket (several deployments, one bucket).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where training and inference run: `auto`: CUDA when a GPU is available, else the CPU.",
    )
    mixed_precision: bool = Field(
        default=True,
        description="On CUDA, mixed precision (float16 where safe) in training; inference stays float32.",
    )

    @field_validator("autonomy_error_targets")
    @classmethod
    def _targets_are_rates(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for task, targets in value.items():
            for label, target in targets.items():
                if not 0 < target < 1:
                    raise ValueError(f"the error target of {task}/{label} must be between 0 and 1")
        return value

    @field_validator("allowed_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'imaging_ai.sqlite3'}"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def heatmaps_dir(self) -> Path:
        return self.data_dir / "heatmaps"

    @property
    def trained_models_dir(self) -> Path:
        """Versions trained at run time (the shipped ones stay in the read-only model store)."""
        return self.data_dir / "models"

    @property
    def model_store_roots(self) -> list[Path]:
        return [self.model_store_dir, self.trained_models_dir]

    @cached_property
    def pseudonym_key_bytes(self) -> bytes:
        """The key for patient pseudonyms; generated once per data directory when not configured.

        Losing this key only means new uploads of a known patient get a new pseudonym; it is kept
        beside the data so that a restart never splits a patient across the training/evaluation split.
        """
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().encode()
        key_file = self.data_dir / "secrets" / "pseudonym.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = key_file.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            tmp.replace(key_file)
        return key_file.read_text().strip().encode()


def get_settings() -> Settings:
    return Settings()
