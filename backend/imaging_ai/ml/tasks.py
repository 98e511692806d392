"""Tasks: named classification problems with a modality and an ordered label set, and looking them up
(with the errors for names that do not exist)."""

from __future__ import annotations

from dataclasses import dataclass

from imaging_ai.errors import DomainError, NotFoundError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    title: str
    modality: str
    """The modality the task is for (DICOM terms: CR/DX are radiographs, MR is MRI)."""
    accepted_modalities: frozenset[str]
    """DICOM modalities accepted; PNG/JPEG carry no modality and are accepted for every task."""
    labels: tuple[str, ...]
    positive_label: str | None
    """For binary tasks, the label whose probability is the score for AUC, sensitivity, specificity."""
    description: str
    target_sensitivity: float | None = None
    """Two-label tasks: the sensitivity each site's decision threshold is chosen to meet."""
    sensitivity_floor: float | None = None
    """Two-label tasks: no candidate is promoted whose sensitivity at its operating point is lower."""
    modality_window: tuple[float, float] | None = None
    """(center, width) in modality units: the window new base versions apply to DICOM images of the task's
    `modality` from their modality values (`PreprocessingSpec.modality_window`), instead of the file's
    own window. None: the file's window (radiographs, MRI, whose values have no fixed scale)."""

    def label_index(self, label: str) -> int:
        return self.labels.index(label)

    @property
    def is_binary(self) -> bool:
        return len(self.labels) == 2


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            name="chest-xray-pneumonia",
            title="Chest X-ray: pneumonia",
            modality="CR",
            accepted_modalities=frozenset({"CR", "DX"}),
            labels=("normal", "pneumonia"),
            positive_label="pneumonia",
            description="Frontal chest radiograph: normal or pneumonia.",
            target_sensitivity=0.90,
            sensitivity_floor=0.80,
        ),
        TaskSpec(
            name="brain-mri-tumor",
            title="Brain MRI: tumour type",
            modality="MR",
            accepted_modalities=frozenset({"MR"}),
            labels=("glioma", "meningioma", "pituitary"),
            positive_label=None,
            description="T1-weighted contrast-enhanced brain MRI slice with a tumour: glioma, meningioma "
            "or pituitary tumour.",
        ),
        TaskSpec(
            name="chest-ct-covid",
            title="Chest CT: COVID-19",
            modality="CT",
            accepted_modalities=frozenset({"CT"}),
            labels=("non_covid", "covid"),
            positive_label="covid",
            description="Axial chest CT slice in the lung window: COVID-19 pneumonia or not. DICOM is read "
            "in Hounsfield units with the lung window (center -600, width 1500), whatever window the file "
            "carries; PNG/JPEG must already be a lung-window slice.",
            target_sensitivity=0.90,
            sensitivity_floor=0.80,
            modality_window=(-600.0, 1500.0),
        ),
    )
}


class UnknownTaskError(NotFoundError):
    code = "unknown_task"


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
