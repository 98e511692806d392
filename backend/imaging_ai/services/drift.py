"""Input drift per site: recent images against the active version's training data.

The statistic is the images' intensity histogram (`imaging.intensity`), compared by the population
stability index. The reference is the part of the active version's training data from the same site
when the version trained on enough of that site's cases, else all of its training data (the source
site's training images, subsampled, plus every verified case it trained on). So a new site shows
drift until a version has learnt from it, and a site whose images change (a new scanner, a protocol
change, another hospital's images sent under its name) shows drift again.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from imaging_ai.imaging import decode_image
from imaging_ai.imaging.intensity import intensity_histogram
from imaging_ai.persistence.reviews import histograms_of, recent_histograms
from imaging_ai.persistence.training_jobs import TrainingJobRepository
from imaging_ai.services.source_data import root_card, source_data
from imaging_ai.services.statistics import mean_histogram, population_stability_index
from imaging_ai.services.tasks import get_task

SOURCE_SAMPLE = 300
"""Source training images read for the reference (a fixed-seed sample: 32 bins need no more)."""
MIN_SITE_REFERENCE = 20
"""Fewest training cases of a site for the site's own part of the training data to be the reference."""


@dataclass(frozen=True)
class DriftPolicy:
    threshold: float = 0.15
    window: int = 50
    min_recent: int = 20


@dataclass(frozen=True)
class DriftReport:
    site: str | None
    score: float | None
    """Population stability index of the recent images against the reference; None without enough data."""
    threshold: float
    drifted: bool
    recent_images: int
    reference: str
    """`site` (the version's training cases from this site), `all` (all its training data), or `none`."""


class ReferenceCache:
    """Reference histograms, shared by the process's requests: the source data's per root version
    (read once, kept on disk), and each version's per site (kept in memory)."""

    def __init__(self, directory: Path, datasets_dir: Path, max_pixels: int) -> None:
        self.directory = directory
        self.datasets_dir = datasets_dir
        self.max_pixels = max_pixels
        self._memory: dict[str, list[float]] = {}
        self.versions: dict[tuple[str, str | None], tuple[list[float] | None, str]] = {}
        """Per (version, site): the reference and its kind (see `DriftMonitor.reference`)."""
        self._lock = threading.Lock()

    def source_histogram(self, session: Session, task: str, version_id: str) -> list[float] | None:
        card = root_card(session, version_id)
        root = str(card.get("version")) if card else None
        if root is None:
            return None
        with self._lock:
            if root in self._memory:
                return self._memory[root]
            cached = self.directory / f"{root}.json"
            if cached.is_file():
                self._memory[root] = json.loads(cached.read_text())
                return self._memory[root]
            data = source_data(session, get_task(task), version_id, self.datasets_dir)
            if data is None or not data.train:
                return None
            sample = random.Random(0).sample(data.train, min(SOURCE_SAMPLE, len(data.train)))
            histogram = mean_histogram(
                [
                    intensity_histogram(
                        decode_image(item.path.read_bytes(), max_pixels=self.max_pixels).display
                    )
                    for item in sample
                ]
            )
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(histogram))
            self._memory[root] = histogram
            return histogram


class DriftMonitor:
    def __init__(self, session: Session, references: ReferenceCache, policy: DriftPolicy) -> None:
        self.session = session
        self.references = references
        self.policy = policy

    def report(self, task: str, site: str | None, version_id: str) -> DriftReport:
        recent = recent_histograms(self.session, task, site, self.policy.window)
        reference, kind = self.reference(task, site, version_id)
        if len(recent) < self.policy.min_recent or reference is None:
            return DriftReport(site, None, self.policy.threshold, False, len(recent), kind)
        score = population_stability_index(mean_histogram(recent), reference)
        return DriftReport(
            site, score, self.policy.threshold, score > self.policy.threshold, len(recent), kind
        )

    def reference(self, task: str, site: str | None, version_id: str) -> tuple[list[float] | None, str]:
        """The version's training-data histogram for the site, and which part of the data it is.

        Computed once per (version, site) and kept: a version's training data never changes, and this
        runs after every prediction at a site that is not supervised.
        """
        key = (version_id, site)
        cached = self.references.versions.get(key)
        if cached is None:
            cached = self._compute_reference(task, site, version_id)
            if cached[1] != "none":
                self.references.versions[key] = cached
        return cached

    def _compute_reference(
        self, task: str, site: str | None, version_id: str
    ) -> tuple[list[float] | None, str]:
        job = TrainingJobRepository(self.session).by_candidate(version_id)
        case_ids = [str(i) for i in (job.training_set or {}).get("case_ids", [])] if job else []
        trained = histograms_of(self.session, [uuid.UUID(i) for i in case_ids])
        same_site = [histogram for case_site, histogram in trained if case_site == site]
        if len(same_site) >= MIN_SITE_REFERENCE:
            return mean_histogram(same_site), "site"
        source = self.references.source_histogram(self.session, task, version_id)
        pooled = ([source] * SOURCE_SAMPLE if source else []) + [histogram for _, histogram in trained]
        if not pooled:
            return None, "none"
        return mean_histogram(pooled), "all"
