"""Which version answers at a site, and at which decision threshold.

A site with a version of its own (promoted for it by the gate or an administrator) gets that version;
every other site, and a prediction without a site, gets the task's default (its active version).
Two-label tasks serve the positive label at or above a threshold per (task, site, version): chosen on
the site's verified cases that the version never trained on, when there are enough of each label;
otherwise the version's own threshold from its validation data (on its card); a version without one
(the shipped ones predate operating points) serves the label of highest probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imaging_ai.errors import DomainError
from imaging_ai.ml.operating_point import ThresholdChoice, choose_if_enough
from imaging_ai.ml.tasks import TaskSpec
from imaging_ai.persistence.audit import record_audit_event
from imaging_ai.persistence.model_versions import ModelVersionRepository
from imaging_ai.persistence.models import ModelVersion, OperatingPoint
from imaging_ai.persistence.reviews import reviewed_predictions
from imaging_ai.persistence.serving import ServingRepository
from imaging_ai.services.accounts.identity import Actor, SystemActor
from imaging_ai.services.training.case_split import is_sequestered_group
from imaging_ai.services.trust.statistics import wilson
from imaging_ai.storage.model_folders import model_folder
from imaging_ai.storage.model_store import ModelStoreError, read_version
from imaging_ai.vocabulary import ModelVersionStatus, OperatingPointSource, Routing


class NoServingVersionError(DomainError):
    status_code = 503
    code = "model_unavailable"


@dataclass(frozen=True)
class ServedVersion:
    version: ModelVersion
    routing: str
    """`site`: the site's own version; `default`: the task's default."""


@dataclass(frozen=True)
class ServedOperatingPoint:
    threshold: float | None
    """None: the label of highest probability (multi-label tasks, versions without a threshold)."""
    source: str
    """`site`, `version` or `argmax`."""
    record: OperatingPoint | None = None


@lru_cache(maxsize=256)
def version_threshold(store_path: str) -> float | None:
    """The threshold on a version's card (chosen on its validation data); versions never change."""
    try:
        card = read_version(model_folder(store_path)).card
    except ModelStoreError:
        return None
    point = card.get("operating_point")
    return float(point["threshold"]) if isinstance(point, dict) and "threshold" in point else None


def served_threshold_for_version(task: TaskSpec, version: ModelVersion) -> ServedOperatingPoint:
    if not task.is_binary:
        return ServedOperatingPoint(None, OperatingPointSource.argmax)
    threshold = version_threshold(version.store_path)
    return (
        ServedOperatingPoint(threshold, OperatingPointSource.version)
        if threshold is not None
        else ServedOperatingPoint(None, OperatingPointSource.argmax)
    )


class ServingService:
    def __init__(self, session: Session, *, min_cases_per_label: int = 10) -> None:
        self.session = session
        self.versions = ModelVersionRepository(session)
        self.serving = ServingRepository(session)
        self.min_cases_per_label = min_cases_per_label

    def version_for(self, task: str, site: str | None) -> ServedVersion:
        if site:
            own = self.serving.site_version(task, site)
            if own is not None:
                version = self.versions.get(own.model_version_id)
                if version is not None and version.status != ModelVersionStatus.rejected:
                    return ServedVersion(version, Routing.site)
        default = self.versions.active(task)
        if default is None:
            raise NoServingVersionError(
                f"No model version is active for task {task}.", details={"task": task}
            )
        return ServedVersion(default, Routing.default)

    def operating_point(
        self, task: TaskSpec, site: str | None, version: ModelVersion
    ) -> ServedOperatingPoint:
        if not task.is_binary:
            return ServedOperatingPoint(None, OperatingPointSource.argmax)
        if site:
            record = self.serving.operating_point(task.name, site, version.id)
            if record is not None:
                return ServedOperatingPoint(record.threshold, OperatingPointSource.site, record)
        return served_threshold_for_version(task, version)

    # --- choosing and recording ------------------------------------------------------------------------

    def choose(self, task: TaskSpec, scores: np.ndarray, positives: np.ndarray) -> ThresholdChoice | None:
        """The threshold for these cases, or None when there are too few of either label."""
        assert task.target_sensitivity is not None
        return choose_if_enough(scores, positives, task.target_sensitivity, self.min_cases_per_label)

    def record(
        self,
        task: TaskSpec,
        site: str,
        version_id: str,
        choice: ThresholdChoice,
        chosen_on: str,
        actor: Actor,
    ) -> OperatingPoint:
        """Stores the site's threshold for a version; a change of threshold is an audit event."""
        assert task.target_sensitivity is not None
        previous = self.serving.operating_point(task.name, site, version_id)
        before = previous.threshold if previous is not None else None
        interval = wilson(choice.true_positives, choice.positives)
        values = OperatingPoint(
            task=task.name,
            site=site,
            model_version_id=version_id,
            threshold=choice.threshold,
            target_sensitivity=task.target_sensitivity,
            sensitivity=_finite(choice.sensitivity),
            sensitivity_low=interval.low,
            sensitivity_high=interval.high,
            specificity=_finite(choice.specificity),
            positives=choice.positives,
            negatives=choice.negatives,
            chosen_on=chosen_on,
            chosen_at=datetime.now(UTC),
        )
        try:
            with self.session.begin_nested():
                row = self.serving.put_operating_point(values)
        except IntegrityError:
            # Another process (a verdict through another replica) stored the first threshold of this
            # (task, site, version) at the same moment: the row exists now, and this choice replaces it.
            row = self.serving.put_operating_point(values)
        if before is None or abs(before - choice.threshold) > 1e-9:
            record_audit_event(
                self.session,
                actor,
                "operating_point.change",
                target_type="operating_point",
                target_id=f"{task.name}/{site}/{version_id}",
                details={
                    "task": task.name,
                    "site": site,
                    "version": version_id,
                    "before": before,
                    "after": choice.threshold,
                    "sensitivity": row.sensitivity,
                    "positives": choice.positives,
                    "negatives": choice.negatives,
                    "chosen_on": chosen_on,
                },
            )
        return row

    def refresh_after_verdict(self, task: TaskSpec, site: str | None) -> OperatingPoint | None:
        """Re-chooses the serving version's threshold at the site from its own verified predictions there.

        A version never trained on the cases it predicted after it existed, so these are fair; the
        sequestered patients are left out (they are the gate's). Fewer than the minimum of either
        label keeps what is in force.
        """
        if not task.is_binary or not site or task.positive_label is None:
            return None
        served = self.version_for(task.name, site)
        cases = [
            case
            for case in reviewed_predictions(
                self.session, task.name, model_version=served.version.id, site=site
            )
            if not is_sequestered_group(case.patient_group)
        ]
        scores = np.asarray([case.probabilities.get(task.positive_label, 0.0) for case in cases], dtype=float)
        positives = np.asarray([case.label == task.positive_label for case in cases], dtype=bool)
        choice = self.choose(task, scores, positives)
        if choice is None:
            return None
        return self.record(
            task,
            site,
            served.version.id,
            choice,
            f"{len(cases)} verified predictions of this version at the site (sequestered patients excluded)",
            SystemActor("system"),
        )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
