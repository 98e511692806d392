"""The model card of a version made by an adaptation job."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from imaging_ai.ml.adaptation import AdaptationParams, AdaptationResult
from imaging_ai.ml.adaptation_data import AdaptationPlan
from imaging_ai.ml.loading import LoadedModel
from imaging_ai.ml.operating_point import ThresholdChoice
from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.services.training.gate import GateDecision
from imaging_ai.vocabulary import PromotionDecision


@dataclass(frozen=True)
class CardInputs:
    parent: LoadedModel
    parent_card: dict[str, Any]
    task: TaskSpec
    site: str | None
    params: AdaptationParams
    plan: AdaptationPlan
    counts: dict[str, dict[str, int]]
    result: AdaptationResult
    version_threshold: ThresholdChoice | None
    validation_size: int
    decision: GateDecision
    job_id: uuid.UUID
    started: float


def _operating_point(inputs: CardInputs) -> dict[str, Any] | None:
    choice = inputs.version_threshold
    if choice is None:
        return None
    return {
        "threshold": choice.threshold,
        "target_sensitivity": inputs.task.target_sensitivity,
        "sensitivity": round(choice.sensitivity, 4),
        "specificity": round(choice.specificity, 4),
        "positives": choice.positives,
        "negatives": choice.negatives,
        "chosen_on": f"the job's validation set ({inputs.validation_size} cases: held-out site patients, "
        "plus source images when those are few)",
    }


def adapted_version_card(inputs: CardInputs) -> dict[str, Any]:
    decision = inputs.decision
    metrics: dict[str, Any] = {}
    for comparison in (decision.target, *decision.others):
        if comparison is None:
            continue
        metrics[f"gate:{comparison.cases}"] = {
            "auc": comparison.candidate_auc,
            "sensitivity": comparison.candidate_sensitivity,
            "specificity": comparison.candidate_specificity,
            "n": comparison.n,
            "counts_per_label": comparison.counts_per_label,
        }
    card: dict[str, Any] = {
        "labels": list(inputs.task.labels),
        "modality": inputs.task.modality,
        "architecture": inputs.parent.architecture,
        "input": inputs.parent_card.get("input"),
        "training_data": {
            "datasets": [
                "verified cases",
                *inputs.parent_card.get("training_data", {}).get("datasets", [])[:1],
            ],
            "site": inputs.site,
            "sites": sorted(inputs.counts),
            "counts_per_label": {"verified_training": inputs.counts},
            "replayed_source_images": inputs.result.replayed,
            "split_rule": "verified cases split by pseudonymous patient: ~20% sequestered (never trained "
            f"on); of the rest, {len(inputs.plan.site_validation)} cases of held-out patients for early "
            "stopping, calibration and the operating point",
        },
        "parent_version": inputs.parent.version,
        "training_job": str(inputs.job_id),
        "training": {
            "method": "fine-tune from the parent with replay of source training images, class-balanced, "
            "augmented as base training",
            "params": asdict(inputs.params),
            "history": [asdict(record) for record in inputs.result.training.history],
            "best_epoch": inputs.result.training.best_epoch,
            "seconds": round(time.perf_counter() - inputs.started, 1),
        },
        "calibration": {
            "method": "temperature scaling on the job's validation set",
            "temperature": round(inputs.result.temperature, 4),
        },
        "metrics": metrics,
        "metrics_note": "gate:* sets are the evidence the gate decided on; the report half of the source "
        "test split is never read by a job (see docs/adaptation.md)",
        "gate": {
            "decision": PromotionDecision.promoted if decision.promoted else PromotionDecision.held_back,
            "promote_for_site": decision.promote_for_site,
            "promote_as_default": decision.promote_as_default,
            "reason": decision.reason,
            "looks": decision.looks,
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    point = _operating_point(inputs)
    if point is not None:
        card["operating_point"] = point
    if "usage" in inputs.parent_card:
        # A fine-tune is derived from its parent's weights, and so from their data: same licence terms.
        card["usage"] = inputs.parent_card["usage"]
    return card
