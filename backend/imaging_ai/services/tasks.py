"""Looking up tasks, and the errors for names that do not exist."""

from __future__ import annotations

from imaging_ai.errors import DomainError, NotFoundError
from imaging_ai.ml.tasks import TASKS, TaskSpec


class UnknownTaskError(NotFoundError):
    code = "unknown_task"


class UnknownModelVersionError(NotFoundError):
    code = "unknown_model_version"


class UnknownLabelError(DomainError):
    status_code = 422
    code = "unknown_label"


def get_task(name: str) -> TaskSpec:
    task = TASKS.get(name)
    if task is None:
        raise UnknownTaskError(f"No task named {name!r}.", details={"task": name, "tasks": sorted(TASKS)})
    return task


def require_label(task: TaskSpec, label: str) -> str:
    if label not in task.labels:
        raise UnknownLabelError(
            f"{label!r} is not a label of task {task.name}.", details={"labels": list(task.labels)}
        )
    return label
