"""Received DICOM studies and series, and a series' answer from its slices' predictions.

The series-level rule (one answer per task among the series' latest predictions):

- two-label tasks: the series' probability of the positive label is the **maximum over its slices**;
  the served label is the positive one when that maximum is at or above the decision threshold the
  deciding slice was served at (0.5 when it was served by argmax), else the other label;
- tasks with more labels: the label with the **highest probability over all slices** (and that
  probability).

Blind reads stay blind: when any slice's answer is hidden from the viewer (a blind read not read yet,
see `predictions.answer_visible`), the series' answer for that task is hidden too, since it is made
of the slices' answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from imaging_ai.errors import NotFoundError
from imaging_ai.ml.tasks import TASKS
from imaging_ai.persistence.models import Image, Prediction
from imaging_ai.persistence.studies import SeriesRow, StudyRepository, StudyRow
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.cases.predictions import answer_visible

SERIES_RULE = (
    "Two-label tasks: the series' positive-label probability is the maximum over its slices, and the "
    "series is called positive when that maximum is at or above the decision threshold its slice was "
    "served at (0.5 for argmax). More labels: the label with the highest probability over all slices. "
    "Hidden while any slice awaits its blind read."
)


class StudyNotFoundError(NotFoundError):
    code = "study_not_found"


class SeriesNotFoundError(NotFoundError):
    code = "series_not_found"


@dataclass(frozen=True)
class SeriesAnswer:
    task: str
    slices: int
    """Slices with a prediction for the task."""
    hidden: bool
    label: str | None = None
    probability: float | None = None
    """The series' probability of `label` by the rule (null while hidden)."""
    decision_threshold: float | None = None
    deciding_image_id: uuid.UUID | None = None
    deciding_instance_number: int | None = None


@dataclass(frozen=True)
class SeriesInstance:
    image: Image
    prediction: Prediction | None


@dataclass(frozen=True)
class SeriesView:
    series: SeriesRow
    instances: list[SeriesInstance]
    answers: list[SeriesAnswer]


class Studies:
    def __init__(self, session: Session) -> None:
        self.repository = StudyRepository(session)

    def page(self, *, site: str | None, limit: int, offset: int) -> tuple[list[StudyRow], int]:
        return self.repository.page(site=site, limit=limit, offset=offset)

    def study(self, study_instance_uid: str) -> tuple[StudyRow, list[SeriesRow]]:
        study = self.repository.study(study_instance_uid)
        if study is None:
            raise StudyNotFoundError(
                "No study with this (pseudonymised) Study Instance UID has been received."
            )
        return study, self.repository.series_of_study(study_instance_uid)

    def series(self, series_instance_uid: str, viewer: Principal) -> SeriesView:
        images = self.repository.series_images(series_instance_uid)
        if not images:
            raise SeriesNotFoundError(
                "No series with this (pseudonymised) Series Instance UID has been received."
            )
        latest = self.repository.latest_predictions([image.id for image in images])
        instances = [SeriesInstance(image, latest.get(image.id)) for image in images]
        first = images[0]
        row = SeriesRow(
            series_instance_uid=series_instance_uid,
            study_instance_uid=first.study_instance_uid or "",
            modality=first.modality,
            body_part=first.body_part,
            site=first.site,
            instance_count=len(images),
            first_received_at=min(image.created_at for image in images),
            last_received_at=max(image.created_at for image in images),
        )
        return SeriesView(row, instances, series_answers(instances, viewer))


def series_answers(instances: list[SeriesInstance], viewer: Principal) -> list[SeriesAnswer]:
    """One answer per task among the instances' predictions, by the rule of `SERIES_RULE`."""
    by_task: dict[str, list[SeriesInstance]] = {}
    for instance in instances:
        if instance.prediction is not None:
            by_task.setdefault(instance.prediction.task, []).append(instance)
    return [_answer(task, members, viewer) for task, members in sorted(by_task.items())]


def _answer(task_name: str, members: list[SeriesInstance], viewer: Principal) -> SeriesAnswer:
    predictions = [(m.image, m.prediction) for m in members if m.prediction is not None]
    if any(not answer_visible(prediction, viewer) for _, prediction in predictions):
        return SeriesAnswer(task=task_name, slices=len(predictions), hidden=True)
    task = TASKS.get(task_name)
    labels = task.labels if task is not None else None
    positive = task.positive_label if task is not None and task.is_binary else None
    if labels is not None and positive is not None:
        negative = next(label for label in labels if label != positive)
        image, prediction = max(predictions, key=lambda pair: _probability(pair[1], positive))
        probability = _probability(prediction, positive)
        threshold = prediction.decision_threshold if prediction.decision_threshold is not None else 0.5
        return SeriesAnswer(
            task=task_name,
            slices=len(predictions),
            hidden=False,
            label=positive if probability >= threshold else negative,
            probability=probability,
            decision_threshold=threshold,
            deciding_image_id=image.id,
            deciding_instance_number=image.instance_number,
        )
    best: tuple[float, str, Image] | None = None
    for image, prediction in predictions:
        for label, value in (prediction.probabilities or {}).items():
            if best is None or float(value) > best[0]:
                best = (float(value), str(label), image)
    if best is None:
        return SeriesAnswer(task=task_name, slices=len(predictions), hidden=False)
    value, label, image = best
    return SeriesAnswer(
        task=task_name,
        slices=len(predictions),
        hidden=False,
        label=label,
        probability=value,
        deciding_image_id=image.id,
        deciding_instance_number=image.instance_number,
    )


def _probability(prediction: Prediction, label: str) -> float:
    return float((prediction.probabilities or {}).get(label, 0.0))
