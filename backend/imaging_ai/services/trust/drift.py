"""Input drift per site: sequential tests on what the serving version sees and says.

Each prediction stores two normal scores against the version's held-out images (`ml.feature_density`):
of the Mahalanobis distance of its features, and of its output. Over a site's latest predictions by
that version, CUSUMs on those scores (`ml.drift_detector`) raise drift with a false-alarm rate set in
advance (docs/trust.md). A new site, a scanner or protocol change and foreign images all move the
features; a change in the case mix moves the output.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from imaging_ai.ml.drift_detector import DriftPolicy, detect
from imaging_ai.persistence.reviews import drift_scores


@dataclass(frozen=True)
class DriftReport:
    site: str | None
    drifted: bool
    statistic: float | None
    """The largest of the CUSUMs now; None before the version's first scored image at the site."""
    threshold: float
    images: int
    """Scored images in the window."""
    which: str | None
    """`features`, `output_high` or `output_low`: the CUSUM over its threshold (None when quiet)."""
    out_of_distribution: int
    """Images in the window beyond the version's out-of-distribution threshold."""

    @property
    def out_of_distribution_rate(self) -> float | None:
        return round(self.out_of_distribution / self.images, 4) if self.images else None


class DriftMonitor:
    def __init__(self, session: Session, policy: DriftPolicy) -> None:
        self.session = session
        self.policy = policy

    def quiet(self, site: str | None) -> DriftReport:
        """The report of a site with nothing scored (yet) by the version."""
        return DriftReport(site, False, None, self.policy.h, 0, None, 0)

    def report(self, task: str, site: str | None, version_id: str) -> DriftReport:
        scores = drift_scores(self.session, task, site, version_id, self.policy.window)
        flagged = sum(flag for _, _, flag in scores)
        if not scores:
            return self.quiet(site)
        state = detect([f for f, _, _ in scores], [o for _, o, _ in scores], self.policy)
        return DriftReport(
            site,
            state.drifted,
            round(state.statistic, 3),
            state.threshold,
            state.images,
            state.which,
            flagged,
        )
