"""The domain's states (`imaging_ai.vocabulary`) as the API declares them.

Literals of the enums' members: the OpenAPI document keeps describing each as an inline string enum
with the field's title (clients generated from it keep their types), and requests are validated into
the members themselves. `tests/api/test_schema_vocabulary.py` checks that each lists every member.
"""

from __future__ import annotations

from typing import Literal

from imaging_ai import vocabulary as v

AutonomyLevel = Literal[
    v.AutonomyLevel.supervised, v.AutonomyLevel.semi_autonomous, v.AutonomyLevel.autonomous
]
PredictionStatus = Literal[
    v.PredictionStatus.pending_review, v.PredictionStatus.reviewed, v.PredictionStatus.final
]
Verdict = Literal[v.Verdict.agree, v.Verdict.disagree, v.Verdict.unreadable]
GivenVerdict = Literal[
    v.GivenVerdict.agree, v.GivenVerdict.disagree, v.GivenVerdict.unreadable, v.GivenVerdict.read
]
ModelVersionStatus = Literal[
    v.ModelVersionStatus.candidate,
    v.ModelVersionStatus.active,
    v.ModelVersionStatus.retired,
    v.ModelVersionStatus.rejected,
]
TrainingJobStatus = Literal[
    v.TrainingJobStatus.queued,
    v.TrainingJobStatus.running,
    v.TrainingJobStatus.succeeded,
    v.TrainingJobStatus.failed,
    v.TrainingJobStatus.cancelled,
]
TrainingTrigger = Literal[v.TrainingTrigger.manual, v.TrainingTrigger.automatic]
PromotionDecision = Literal[v.PromotionDecision.promoted, v.PromotionDecision.held_back]
UserKind = Literal[v.UserKind.person, v.UserKind.service]
Role = Literal[v.Role.clinician, v.Role.admin]
ApiKeyScope = Literal[v.ApiKeyScope.read, v.ApiKeyScope.predict]
AlertKind = Literal[
    v.AlertKind.agreement_dropped,
    v.AlertKind.new_version,
    v.AlertKind.input_drift,
    v.AlertKind.error_above_target,
]
Routing = Literal[v.Routing.site, v.Routing.default]
OperatingPointSource = Literal[
    v.OperatingPointSource.site, v.OperatingPointSource.version, v.OperatingPointSource.argmax
]
DeliveryStatus = Literal[v.DeliveryStatus.pending, v.DeliveryStatus.sent, v.DeliveryStatus.failed]
