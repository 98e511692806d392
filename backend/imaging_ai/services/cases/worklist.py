"""The worklist: cases waiting for a clinician, most informative and riskiest first.

priority = 0.5 x uncertainty + 0.3 x disagreement risk + 0.2 x waiting, each in [0, 1]:
- uncertainty: the normalised entropy of the calibrated probabilities (what a verdict teaches most);
- disagreement risk: half the AI's own doubt (1 - confidence, scaled to [0, 1] by the number of labels),
  half how often clinicians at the case's site disagreed with the active version (Laplace-smoothed);
- waiting: hours since the prediction, over 24, capped at 1 (nothing waits forever).
Ties go to the older case. Cases: every `pending_review` prediction, and the automatically finalised
ones drawn for audit that nobody has reviewed yet.

Grouped by study, a DICOM study's waiting cases of one task are one item, placed (and represented) by
its highest-priority case: a clinician opens the study once and reads its slices or views together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from imaging_ai.ml.tasks import get_task
from imaging_ai.persistence.images import ImageRepository
from imaging_ai.persistence.models import Prediction
from imaging_ai.persistence.predictions import PredictionRepository
from imaging_ai.persistence.reviews import reviewed_predictions
from imaging_ai.services.models.serving import NoServingVersionError, ServingService
from imaging_ai.vocabulary import PredictionStatus

WEIGHTS = {"uncertainty": 0.5, "disagreement_risk": 0.3, "waiting": 0.2}
WAITING_HORIZON_HOURS = 24.0


@dataclass(frozen=True)
class WorklistItem:
    prediction: Prediction
    priority: float
    components: dict[str, float]
    reason: str
    """`review` (waiting for its verdict) or `audit` (finalised automatically, drawn for audit)."""
    study_instance_uid: str | None = None
    """Grouped by study: the study the item stands for (null: an image without one)."""
    cases_in_study: int = 1
    """Grouped by study: the study's waiting cases of the task, this one included."""


class Worklist:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        *,
        task: str | None,
        site: str | None,
        level: str | None,
        limit: int,
        offset: int,
        by_study: bool = False,
        now: datetime | None = None,
    ) -> tuple[list[WorklistItem], int]:
        if task is not None:
            get_task(task)
        now = now or datetime.now(UTC)
        candidates = PredictionRepository(self.session).waiting(task=task, site=site, level=level)
        rates = self._site_disagreement(candidates)
        items = [self._item(p, rates.get((p.task, p.site), 0.5), now) for p in candidates]
        items.sort(key=lambda item: (-item.priority, item.prediction.created_at, str(item.prediction.id)))
        if by_study:
            items = self._one_per_study(items)
        return items[offset : offset + limit], len(items)

    def _one_per_study(self, items: list[WorklistItem]) -> list[WorklistItem]:
        """The first (highest-priority) item of each (study, task), counting the study's cases."""
        studies = ImageRepository(self.session).study_uids({item.prediction.image_id for item in items})
        keys = [
            (study, item.prediction.task) if (study := studies.get(item.prediction.image_id)) else None
            for item in items
        ]
        counts = Counter(key for key in keys if key is not None)
        seen: set[tuple[str, str]] = set()
        grouped: list[WorklistItem] = []
        for item, key in zip(items, keys, strict=True):
            if key is None:
                grouped.append(item)
            elif key not in seen:
                seen.add(key)
                grouped.append(replace(item, study_instance_uid=key[0], cases_in_study=counts[key]))
        return grouped

    def _site_disagreement(self, candidates: Sequence[Prediction]) -> dict[tuple[str, str | None], float]:
        """Per (task, site): how often clinicians disagreed with the version now serving the site."""
        rates: dict[tuple[str, str | None], float] = {}
        serving = ServingService(self.session)
        for task, site in {(p.task, p.site) for p in candidates}:
            try:
                version = serving.version_for(task, site).version.id
            except NoServingVersionError:
                version = None
            # `site=None` asks for every site; the filter keeps the cases sent without one.
            reviewed = (
                reviewed_predictions(self.session, task, model_version=version, site=site) if version else []
            )
            at_site = [case for case in reviewed if case.site == site]
            disagreed = sum(not case.agreed for case in at_site)
            rates[(task, site)] = (disagreed + 1) / (len(at_site) + 2)
        return rates

    @staticmethod
    def _item(prediction: Prediction, site_disagreement: float, now: datetime) -> WorklistItem:
        labels = len(get_task(prediction.task).labels)
        doubt = (1 - prediction.confidence) / (1 - 1 / labels) if labels > 1 else 0.0
        waited = (now - prediction.created_at).total_seconds() / 3600
        components = {
            "uncertainty": round(prediction.uncertainty, 4),
            "disagreement_risk": round(0.5 * min(1.0, max(0.0, doubt)) + 0.5 * site_disagreement, 4),
            "waiting": round(min(1.0, max(0.0, waited / WAITING_HORIZON_HOURS)), 4),
        }
        priority = round(sum(WEIGHTS[name] * value for name, value in components.items()), 4)
        reason = "audit" if prediction.status == PredictionStatus.final else "review"
        return WorklistItem(prediction, priority, components, reason)
