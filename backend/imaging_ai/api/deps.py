"""Dependencies shared by the routes, as Annotated aliases that keep route signatures short."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from imaging_ai.api.state import AppState
from imaging_ai.ml.drift_detector import DriftPolicy
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.accounts.authentication import Authenticator, LoginPolicy, SignInService
from imaging_ai.services.accounts.users import AccountService
from imaging_ai.services.audit import AuditLog
from imaging_ai.services.cases.dicom_intake import DicomIntake
from imaging_ai.services.cases.feedback import FeedbackService
from imaging_ai.services.cases.images import IngestionService
from imaging_ai.services.cases.learning_queue import LearningQueue
from imaging_ai.services.cases.predictions import PredictionService
from imaging_ai.services.cases.studies import Studies
from imaging_ai.services.cases.worklist import Worklist
from imaging_ai.services.models.catalog import ModelCatalog
from imaging_ai.services.models.serving import ServingService
from imaging_ai.services.results.deliveries import DeliveryService
from imaging_ai.services.results.outbox import DeliveryPolicy, ResultOutbox
from imaging_ai.services.training.jobs import TrainingJobService
from imaging_ai.services.training.promotion import PromotionService
from imaging_ai.services.trust.autonomy import AutonomyRules, AutonomyService
from imaging_ai.services.trust.certification import CertificationRules
from imaging_ai.services.trust.drift import DriftMonitor
from imaging_ai.services.trust.monitoring import Monitoring
from imaging_ai.settings import Settings


def client_address(request: Request) -> str | None:
    """The caller's address, for the audit log."""
    return request.client.host if request.client else None


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.imaging_ai
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(state: StateDep) -> Iterator[Session]:
    # "function" scope: the transaction commits when the route returns, before the response is
    # sent, so a failed commit is answered as an error instead of a success that was lost.
    with transaction(state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_ingestion_service(state: StateDep, session: SessionDep) -> IngestionService:
    return IngestionService(
        session,
        state.blob_store,
        max_image_pixels=state.settings.max_image_pixels,
        pseudonym_key=state.settings.pseudonym_key_bytes,
    )


IngestionServiceDep = Annotated[IngestionService, Depends(get_ingestion_service)]


def get_autonomy_service(state: StateDep, session: SessionDep) -> AutonomyService:
    settings = state.settings
    drift = DriftMonitor(session, DriftPolicy(window=settings.drift_window))
    rules = AutonomyRules(
        CertificationRules(settings.autonomy_error_targets, alpha=settings.autonomy_alpha),
        blind_read_fraction=settings.blind_read_fraction,
    )
    return AutonomyService(session, drift, rules)


AutonomyServiceDep = Annotated[AutonomyService, Depends(get_autonomy_service)]


def get_worklist(session: SessionDep) -> Worklist:
    return Worklist(session)


WorklistDep = Annotated[Worklist, Depends(get_worklist)]


def get_learning_queue(state: StateDep, session: SessionDep) -> LearningQueue:
    return LearningQueue(session, random_share=state.settings.learning_random_share)


LearningQueueDep = Annotated[LearningQueue, Depends(get_learning_queue)]


def get_monitoring(session: SessionDep) -> Monitoring:
    return Monitoring(session)


MonitoringDep = Annotated[Monitoring, Depends(get_monitoring)]


def get_serving_service(state: StateDep, session: SessionDep) -> ServingService:
    return ServingService(session, min_cases_per_label=state.settings.operating_point_min_cases)


ServingServiceDep = Annotated[ServingService, Depends(get_serving_service)]


def get_prediction_service(
    state: StateDep,
    session: SessionDep,
    ingestion: IngestionServiceDep,
    autonomy: AutonomyServiceDep,
    serving: ServingServiceDep,
) -> PredictionService:
    return PredictionService(
        session,
        state.runtime,
        ingestion,
        state.heatmaps,
        autonomy,
        serving,
        results=_result_outbox(state, session),
    )


PredictionServiceDep = Annotated[PredictionService, Depends(get_prediction_service)]


def get_model_catalog(serving: ServingServiceDep) -> ModelCatalog:
    return ModelCatalog(serving.session, serving)


ModelCatalogDep = Annotated[ModelCatalog, Depends(get_model_catalog)]


def get_training_job_service(state: StateDep, session: SessionDep) -> TrainingJobService:
    return TrainingJobService(session, auto_train_after=state.settings.auto_train_after)


TrainingJobServiceDep = Annotated[TrainingJobService, Depends(get_training_job_service)]


def get_feedback_service(
    state: StateDep,
    session: SessionDep,
    jobs: TrainingJobServiceDep,
    autonomy: AutonomyServiceDep,
    serving: ServingServiceDep,
) -> FeedbackService:
    return FeedbackService(
        session, autonomy=autonomy, serving=serving, training=jobs, results=_result_outbox(state, session)
    )


def _result_outbox(state: AppState, session: Session) -> ResultOutbox:
    """Queues results for the PACS as predictions are made or become final (nothing without a destination)."""
    return ResultOutbox(session, DeliveryPolicy.from_settings(state.settings))


FeedbackServiceDep = Annotated[FeedbackService, Depends(get_feedback_service)]


def get_promotion_service(session: SessionDep) -> PromotionService:
    return PromotionService(session)


PromotionServiceDep = Annotated[PromotionService, Depends(get_promotion_service)]


def get_sign_in_service(state: StateDep) -> SignInService:
    settings = state.settings
    policy = LoginPolicy(
        max_failures_per_account=settings.login_max_failures_per_account,
        max_failures_per_address=settings.login_max_failures_per_address,
        window=timedelta(minutes=settings.login_lockout_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
    )
    return SignInService(state.session_factory, policy)


SignInServiceDep = Annotated[SignInService, Depends(get_sign_in_service)]


def get_account_service(session: SessionDep) -> AccountService:
    return AccountService(session)


AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]


def get_audit_log(session: SessionDep) -> AuditLog:
    return AuditLog(session)


AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]


def get_authenticator(session: SessionDep) -> Authenticator:
    return Authenticator(session)


AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]


def case_services(state: AppState) -> Callable[[Session], tuple[IngestionService, PredictionService]]:
    """The ingestion and prediction services on a given session, composed as for a request: for the
    paths that receive instances outside a request's transaction (DICOM listener, STOW-RS, a pull)."""

    def build(session: Session) -> tuple[IngestionService, PredictionService]:
        ingestion = get_ingestion_service(state, session)
        serving = get_serving_service(state, session)
        autonomy = get_autonomy_service(state, session)
        return ingestion, get_prediction_service(state, session, ingestion, autonomy, serving)

    return build


def dicom_intake(state: AppState) -> DicomIntake:
    """The intake of DICOM instances (STOW-RS, the pull from a PACS, the DICOM listener)."""
    return DicomIntake(state.session_factory, case_services(state))


def get_dicom_intake(state: StateDep) -> DicomIntake:
    return dicom_intake(state)


DicomIntakeDep = Annotated[DicomIntake, Depends(get_dicom_intake)]


def get_studies(session: SessionDep) -> Studies:
    return Studies(session)


StudiesDep = Annotated[Studies, Depends(get_studies)]


def get_delivery_service(session: SessionDep) -> DeliveryService:
    return DeliveryService(session)


DeliveryServiceDep = Annotated[DeliveryService, Depends(get_delivery_service)]
