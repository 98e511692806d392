"""The learning queue: which waiting cases to ask clinicians to verify next, so that each verdict
teaches the model most. It is not the worklist: the worklist orders cases for patient care (risk and
waiting time), the learning queue orders them for learning (`ml/selection.py`).

Per (task, site), over the cases waiting for a clinician:
- a share (`IMAGING_AI_LEARNING_RANDOM_SHARE`) is drawn at random, by a key fixed per case, so the
  verdicts the model learns from are never wholly chosen by the model;
- while the version serving the site is uninformative there (fewer than `MIN_VERIFIED` verified
  answers of its own at the site, or no better than always answering the commonest verified label),
  the rest are drawn from its predicted-label strata in proportion to each one's estimated error
  (Laplace-smoothed disagreement of its verified answers at the site) times its size;
- once it is informative, the rest by uncertainty and diversity (BADGE) on each case's score by the
  version now serving the site.

Scores come from `learning_scores`: written with each prediction, and re-scored by the worker
(`rescore_stale`) after a promotion or rollback changes the version serving a site, so the queue
never ranks by a version that no longer serves.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from imaging_ai.imaging.decode import decode_slot
from imaging_ai.ml.preprocessing import tensor_from_decoded
from imaging_ai.ml.runtime import ModelRuntime
from imaging_ai.ml.selection import RANDOM, STRATIFIED, Pick, gradient_embeddings, learning_order
from imaging_ai.ml.tasks import get_task
from imaging_ai.persistence.learning_scores import LearningScoreRepository, decode_features, encode_features
from imaging_ai.persistence.models import LearningScore, ModelVersion, Prediction
from imaging_ai.persistence.predictions import PredictionRepository
from imaging_ai.persistence.reviews import reviewed_predictions
from imaging_ai.persistence.unit_of_work import end_transaction
from imaging_ai.services.cases.images import IngestionService
from imaging_ai.services.models.serving import NoServingVersionError, ServingService

logger = logging.getLogger(__name__)

MIN_VERIFIED = 20
"""Verified answers of the serving version at a site before its own uncertainty is trusted."""


@dataclass(frozen=True)
class LearningItem:
    prediction: Prediction
    rank: int
    strategy: str
    """`random`, `stratified` or `uncertain_diverse`."""
    reason: str
    scored_by: str | None
    """The version whose score placed the case; None when the case has no score yet."""
    stale: bool
    """Scored by a version that no longer serves the site (the worker re-scores it soon)."""


def random_key(prediction_id: uuid.UUID) -> float:
    """A uniform key fixed per case (the prediction id is random), for the random share."""
    return (prediction_id.int >> 64) / 2**64


@dataclass(frozen=True)
class _SiteState:
    version: str | None
    informative: bool
    error_rates: dict[str, float]
    reason: str


class LearningQueue:
    def __init__(self, session: Session, *, random_share: float) -> None:
        self.session = session
        self.random_share = random_share
        self.scores = LearningScoreRepository(session)

    def page(self, *, task: str, site: str | None, limit: int, offset: int) -> tuple[list[LearningItem], int]:
        spec = get_task(task)
        waiting = PredictionRepository(self.session).pending_review(task=spec.name, site=site)
        items: list[LearningItem] = []
        for group_site in sorted({p.site for p in waiting}, key=lambda s: s or ""):
            group = [p for p in waiting if p.site == group_site]
            items.extend(self._site_queue(spec.name, group_site, group, offset + limit))
        # Sites interleave by rank, so no site's queue hides another's.
        items.sort(key=lambda item: (item.rank, item.prediction.site or ""))
        ranked = [
            LearningItem(i.prediction, n + 1, i.strategy, i.reason, i.scored_by, i.stale)
            for n, i in enumerate(items)
        ]
        return ranked[offset : offset + limit], len(waiting)

    def _site_queue(
        self, task: str, site: str | None, waiting: Sequence[Prediction], count: int
    ) -> list[LearningItem]:
        state = self._state(task, site)
        scores = self.scores.for_predictions([p.id for p in waiting])
        probabilities, features, strata = [], [], []
        labels = list(get_task(task).labels)
        for prediction in waiting:
            score = scores.get(prediction.id)
            probs = score.probabilities if score is not None else prediction.probabilities
            vector = np.array([float(probs[label]) for label in labels])
            probabilities.append(vector)
            strata.append(labels[int(vector.argmax())])
            features.append(decode_features(score.features) if score is not None else None)
        dimension = next((len(f) for f in features if f is not None), 0)
        embeddings = None
        if state.informative and dimension and all(f is not None for f in features):
            embeddings = gradient_embeddings(np.array(probabilities), np.array(features))
        seed = zlib.crc32(f"{task}|{site}|{state.version}|{len(waiting)}".encode())
        picks = learning_order(
            keys=np.array([random_key(p.id) for p in waiting]),
            random_share=self.random_share,
            count=count,
            informative=embeddings is not None,
            strata=strata,
            error_rates=state.error_rates,
            embeddings=embeddings,
            rng=np.random.default_rng(seed),
        )
        items = []
        for rank, pick in enumerate(picks):
            prediction = waiting[pick.index]
            score = scores.get(prediction.id)
            scored_by = score.model_version_id if score is not None else None
            items.append(
                LearningItem(
                    prediction,
                    rank,
                    pick.strategy,
                    _reason(pick, strata[pick.index], state),
                    scored_by,
                    stale=scored_by is not None and scored_by != state.version,
                )
            )
        return items

    def _state(self, task: str, site: str | None) -> _SiteState:
        try:
            version = ServingService(self.session).version_for(task, site).version.id
        except NoServingVersionError:
            return _SiteState(None, False, {}, "no version serves this site")
        verified = [
            case
            for case in reviewed_predictions(self.session, task, model_version=version, site=site)
            if case.site == site
        ]
        counts: dict[str, list[int]] = {}
        for case in verified:
            errors, total = counts.setdefault(case.predicted_label, [0, 0])
            counts[case.predicted_label] = [errors + (case.label != case.predicted_label), total + 1]
        error_rates = {label: (e + 1) / (n + 2) for label, (e, n) in counts.items()}
        if len(verified) < MIN_VERIFIED:
            reason = f"{len(verified)} of {MIN_VERIFIED} verified answers of {version} here"
            return _SiteState(version, False, error_rates, reason)
        accuracy = sum(case.label == case.predicted_label for case in verified) / len(verified)
        labels = [case.label for case in verified]
        majority = max(labels.count(label) for label in set(labels)) / len(labels)
        if accuracy <= majority:
            reason = f"{version} is right on {accuracy:.0%} here, no better than always its commonest label"
            return _SiteState(version, False, error_rates, reason)
        return _SiteState(version, True, error_rates, f"{version} is right on {accuracy:.0%} here")

    def rescore_stale(self, runtime: ModelRuntime, ingestion: IngestionService, *, limit: int = 32) -> int:
        """Re-scores up to `limit` waiting cases whose score is by a version that no longer serves their
        site (or that have none); returns how many. Decoding and inference run with no transaction open."""
        waiting = PredictionRepository(self.session).pending_review()
        scores = self.scores.for_predictions([p.id for p in waiting])
        serving = ServingService(self.session)
        versions: dict[tuple[str, str | None], ModelVersion | None] = {}
        stale: list[tuple[Prediction, str, str]] = []
        for prediction in waiting:
            route = (prediction.task, prediction.site)
            if route not in versions:  # one lookup per (task, site), not per case
                try:
                    versions[route] = serving.version_for(*route).version
                except NoServingVersionError:
                    versions[route] = None
            version = versions[route]
            if version is None:
                continue
            score = scores.get(prediction.id)
            if score is None or score.model_version_id != version.id:
                stale.append((prediction, version.id, version.store_path))
            if len(stale) >= limit:
                break
        images = {p.id: ingestion.get(p.image_id) for p, _, _ in stale}
        end_transaction(self.session)
        rescored = []
        for prediction, version_id, store_path in stale:
            model = runtime.version(version_id, store_path)
            with decode_slot():
                tensor = tensor_from_decoded(ingestion.load(images[prediction.id]), model.preprocessing)
            probabilities, _distance, features = runtime.predict(model, tensor)
            rescored.append(
                LearningScore(
                    prediction_id=prediction.id,
                    model_version_id=version_id,
                    probabilities={
                        label: round(float(p), 6)
                        for label, p in zip(model.labels, probabilities, strict=True)
                    },
                    features=encode_features(features),
                )
            )
        for score in rescored:
            self.scores.put(score)
        if rescored:
            logger.info("learning scores refreshed", extra={"count": len(rescored)})
        return len(rescored)


def _reason(pick: Pick, stratum: str, state: _SiteState) -> str:
    if pick.strategy == RANDOM:
        return "drawn at random: keeps what the model learns from (and the gate's evidence) unbiased"
    if pick.strategy == STRATIFIED:
        return (
            f"answers of `{stratum}` here are wrong an estimated {pick.detail:.0%} of the time "
            f"({state.reason}: sampled by estimated error)"
        )
    return f"uncertain and unlike the cases above it ({state.reason})"
