"""Tasks and model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from imaging_ai.api.schemas.vocabulary import ModelVersionStatus, OperatingPointSource, Routing
from imaging_ai.persistence.models import ModelVersion, OperatingPoint
from imaging_ai.services.models.catalog import SiteServing, TaskView
from imaging_ai.services.models.serving import ServedOperatingPoint


class OperatingPointPublic(BaseModel):
    """The decision threshold a version serves at a site, and the evidence it was chosen on."""

    threshold: float | None = Field(
        description="The positive label is served at or above this calibrated probability; null: the label "
        "of highest probability.",
        examples=[0.31],
    )
    source: OperatingPointSource = Field(
        description="`site`: chosen on the site's verified cases; `version`: the version's own, from its "
        "validation data; `argmax`: no threshold (multi-label tasks, versions without one)."
    )
    target_sensitivity: float | None = None
    sensitivity: float | None = Field(default=None, description="On the cases it was chosen on.")
    sensitivity_ci95: list[float | None] | None = Field(default=None, description="Wilson 95% interval.")
    specificity: float | None = None
    positives: int | None = None
    negatives: int | None = None
    chosen_on: str | None = None
    chosen_at: datetime | None = None

    @classmethod
    def from_served(cls, point: ServedOperatingPoint) -> OperatingPointPublic:
        if point.record is None:
            return cls(threshold=point.threshold, source=point.source)
        return cls.from_record(point.record)

    @classmethod
    def from_record(cls, record: OperatingPoint) -> OperatingPointPublic:
        return cls(
            threshold=record.threshold,
            source="site",
            target_sensitivity=record.target_sensitivity,
            sensitivity=record.sensitivity,
            sensitivity_ci95=[record.sensitivity_low, record.sensitivity_high],
            specificity=record.specificity,
            positives=record.positives,
            negatives=record.negatives,
            chosen_on=record.chosen_on,
            chosen_at=record.chosen_at,
        )


class SiteServingPublic(BaseModel):
    site: str = Field(examples=["nih"])
    version: str = Field(
        description="The version answering at this site.", examples=["chest-xray-pneumonia.v3"]
    )
    routing: Routing = Field(description="`site`: the site's own version; `default`: the task's default.")
    operating_point: OperatingPointPublic
    changed_at: datetime | None = Field(description="When the site got its own version (null: default).")
    changed_by: str | None
    reason: str | None

    @classmethod
    def from_view(cls, view: SiteServing) -> SiteServingPublic:
        return cls(
            site=view.site,
            version=view.version,
            routing=view.routing,
            operating_point=OperatingPointPublic.from_served(view.operating_point),
            changed_at=view.changed_at,
            changed_by=view.changed_by,
            reason=view.reason,
        )


class SiteOperatingPointPublic(OperatingPointPublic):
    site: str


class TaskPublic(BaseModel):
    name: str = Field(examples=["chest-xray-pneumonia"])
    title: str
    description: str
    modality: str = Field(description="DICOM modality the task is for.", examples=["CR"])
    accepted_modalities: list[str] = Field(description="DICOM modalities accepted (PNG/JPEG always are).")
    labels: list[str] = Field(description="Ordered label set.", examples=[["normal", "pneumonia"]])
    active_version: str | None = Field(
        description="The task's default version (same as `default_version`; kept for existing clients)."
    )
    default_version: str | None = Field(
        description="Serves every site without a version of its own, and predictions without a site."
    )
    default_operating_point: OperatingPointPublic | None = Field(
        description="The default version's own threshold, served where a site has none of its own."
    )
    target_sensitivity: float | None = Field(
        description="Two-label tasks: the sensitivity each site's threshold is chosen to meet.",
        examples=[0.9],
    )
    sites: list[SiteServingPublic] = Field(
        description="Every site that sent images or has its own version: what serves it, at which threshold."
    )

    @classmethod
    def from_view(cls, view: TaskView) -> TaskPublic:
        spec = view.spec
        return cls(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            modality=spec.modality,
            accepted_modalities=sorted(spec.accepted_modalities),
            labels=list(spec.labels),
            active_version=view.default_version,
            default_version=view.default_version,
            default_operating_point=OperatingPointPublic.from_served(view.default_operating_point)
            if view.default_operating_point
            else None,
            target_sensitivity=spec.target_sensitivity,
            sites=[SiteServingPublic.from_view(site) for site in view.sites],
        )


class ModelVersionPublic(BaseModel):
    id: str = Field(examples=["chest-xray-pneumonia.v1"])
    task: str
    status: ModelVersionStatus
    parent: str | None = Field(description="The version this one was fine-tuned from.")
    weights_sha256: str
    created_at: datetime
    activated_at: datetime | None
    metrics: dict[str, Any] = Field(
        default_factory=dict, description="Metrics per named evaluation set, from the model card."
    )
    is_default: bool = Field(description="The task's default (`status` is `active`).")
    serving_sites: list[str] = Field(description="Sites this version serves as their own version.")
    usage_restriction: str | None = Field(
        default=None,
        description="From the model card: how the weights may be used, set by the licences of the data "
        "they were trained and evaluated on (the card's `usage` names them); null: none recorded.",
        examples=["research and non-commercial use only"],
    )

    @classmethod
    def from_record(
        cls, version: ModelVersion, card: dict[str, Any] | None, serving_sites: list[str]
    ) -> ModelVersionPublic:
        return cls(
            is_default=version.status == "active",
            serving_sites=serving_sites,
            id=version.id,
            task=version.task,
            status=version.status,
            parent=version.parent_id,
            weights_sha256=version.weights_sha256,
            created_at=version.created_at,
            activated_at=version.activated_at,
            metrics=(card or {}).get("metrics", {}),
            usage_restriction=_usage_restriction(card),
        )


def _usage_restriction(card: dict[str, Any] | None) -> str | None:
    usage = (card or {}).get("usage")
    restriction = usage.get("restriction") if isinstance(usage, dict) else None
    return str(restriction) if restriction else None


class ModelVersionDetail(ModelVersionPublic):
    lineage: list[str] = Field(description="Ancestors, nearest first (parent, grandparent, ...).")
    children: list[str] = Field(description="Versions fine-tuned from this one.")
    card: dict[str, Any] | None = Field(description="The full model card (JSON) from the model store.")
    operating_points: list[SiteOperatingPointPublic] = Field(
        description="The threshold chosen for this version at each site (in force where it serves)."
    )
