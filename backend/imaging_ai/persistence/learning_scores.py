"""Learning scores: each waiting case as scored by the version serving its site (probabilities and
penultimate features), for the learning queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from imaging_ai.persistence.models import LearningScore


def encode_features(features: torch.Tensor | NDArray[np.floating]) -> bytes:
    """float16, little-endian: a 576-feature case takes 1.2 KB; the queue needs directions, not digits."""
    array = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    return np.asarray(array, dtype="<f2").tobytes()


def decode_features(data: bytes) -> NDArray[np.float32]:
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


class LearningScoreRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_predictions(self, prediction_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LearningScore]:
        scores: dict[uuid.UUID, LearningScore] = {}
        for start in range(0, len(prediction_ids), 500):  # bounded IN lists
            chunk = list(prediction_ids[start : start + 500])
            for score in self.session.scalars(
                select(LearningScore).where(LearningScore.prediction_id.in_(chunk))
            ):
                scores[score.prediction_id] = score
        return scores

    def add(self, score: LearningScore) -> None:
        """The first score of a new prediction (written with it, flushed with it)."""
        self.session.add(score)

    def put(self, score: LearningScore) -> None:
        """Insert or replace the case's score."""
        self.session.merge(score)
        self.session.flush()
