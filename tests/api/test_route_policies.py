"""Every route declares who may call it, and each identity gets exactly the answer the matrix says.

The matrix below is the test's own copy of the policy: a new route fails until it is added here, and
a changed policy fails until the change is made here too, on purpose.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from imaging_ai.api.app import create_app
from imaging_ai.api.security import declared_routes, enforce_route_policies
from imaging_ai.settings import Settings
from tests.accounts import bearer, create_api_key, create_user
from tests.api.conftest import app_state, client_as

PUBLIC, SIGNED_IN = "public", "signed-in"

MATRIX: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("POST", "/api/v1/auth/password"): SIGNED_IN,
    ("POST", "/api/v1/images"): "predict",
    ("POST", "/dicom-web/studies"): "predict",
    ("POST", "/dicom-web/studies/{study}"): "predict",
    ("POST", "/api/v1/pacs/imports"): "predict",
    ("GET", "/api/v1/studies"): "read",
    ("GET", "/api/v1/studies/{study_instance_uid}"): "read",
    ("GET", "/api/v1/series/{series_instance_uid}"): "read",
    ("GET", "/api/v1/result-deliveries"): "read",
    ("GET", "/api/v1/predictions/{prediction_id}/deliveries"): "read",
    ("POST", "/api/v1/result-deliveries/{delivery_id}/retry"): "admin",
    ("GET", "/api/v1/images/{image_id}"): "read",
    ("GET", "/api/v1/images/{image_id}/render"): "read",
    ("GET", "/api/v1/images/{image_id}/file"): "read",
    ("POST", "/api/v1/predictions"): "predict",
    ("GET", "/api/v1/predictions"): "read",
    ("GET", "/api/v1/predictions/{prediction_id}"): "read",
    ("GET", "/api/v1/predictions/{prediction_id}/heatmap"): "read",
    ("POST", "/api/v1/predictions/{prediction_id}/feedback"): "review",
    ("GET", "/api/v1/predictions/{prediction_id}/feedback"): "read",
    ("GET", "/api/v1/tasks"): "read",
    ("GET", "/api/v1/tasks/{task}"): "read",
    ("GET", "/api/v1/tasks/{task}/models"): "read",
    ("GET", "/api/v1/models/{version}"): "read",
    ("POST", "/api/v1/training-jobs"): "admin",
    ("GET", "/api/v1/training-jobs"): "admin",
    ("GET", "/api/v1/training-jobs/{job_id}"): "admin",
    ("POST", "/api/v1/training-jobs/{job_id}/cancel"): "admin",
    ("POST", "/api/v1/models/{version}/promote"): "admin",
    ("POST", "/api/v1/tasks/{task}/rollback"): "admin",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("GET", "/api/v1/users/{user_id}"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("POST", "/api/v1/users/{user_id}/password"): "admin",
    ("POST", "/api/v1/users/{user_id}/unlock"): "admin",
    ("POST", "/api/v1/users/{user_id}/api-keys"): "admin",
    ("GET", "/api/v1/api-keys"): "admin",
    ("POST", "/api/v1/api-keys/{key_id}/revoke"): "admin",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/worklist"): "read",
    ("GET", "/api/v1/learning-queue"): "read",
    ("GET", "/api/v1/tasks/{task}/autonomy"): "read",
    ("PUT", "/api/v1/tasks/{task}/autonomy"): "admin",
    ("GET", "/api/v1/alerts"): "read",
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): "review",
    ("GET", "/api/v1/tasks/{task}/metrics"): "read",
    ("GET", "/api/v1/tasks/{task}/calibration"): "read",
    ("GET", "/metrics"): PUBLIC,
}

# What each identity may do; the matrix test derives every expected answer from this.
IDENTITIES: dict[str, set[str]] = {
    "anonymous": set(),
    "clinician": {"read", "predict", "review"},
    "admin": {"read", "predict", "review", "admin"},
    "key:read": {"read"},
    "key:predict": {"predict"},
}


def test_every_route_declares_a_policy_and_the_matrix_covers_them_all(settings: Settings) -> None:
    routes = declared_routes(create_app(settings))
    assert all(route.policies for route in routes)
    served = {(method, route.path) for route in routes for method in route.methods}
    assert served == set(MATRIX), f"routes missing from the matrix: {served - set(MATRIX)}"
    for route in routes:
        for method in route.methods:
            expected = MATRIX[(method, route.path)]
            if expected == PUBLIC:
                assert route.public, route
            elif expected == SIGNED_IN:
                assert not route.public and not route.permissions, route
            else:
                assert {p.value for p in route.permissions} == {expected}, route


def test_an_app_with_an_undeclared_route_refuses_to_start() -> None:
    router = APIRouter()

    @router.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    with pytest.raises(RuntimeError, match="GET /forgotten"):
        enforce_route_policies(app)


def _url(path: str) -> str:
    return re.sub(
        r"\{[a-z_]+\}", lambda m: str(uuid.UUID(int=7)) if m.group(0).endswith("id}") else "x", path
    )


def test_each_identity_gets_exactly_the_answers_of_the_matrix(client: TestClient) -> None:
    factory = app_state(client).session_factory
    clinician = create_user(factory, "dr.matrix")
    admin = create_user(factory, "it.admin", ("admin",))
    read_key = bearer(create_api_key(factory, "ris-reader", ("read",)))
    predict_key = bearer(create_api_key(factory, "pacs-router", ("predict",)))

    def identity_client(identity: str) -> TestClient:
        # A fresh session for each request: sign-out must not end the next request's session.
        return {
            "anonymous": lambda: client_as(client),
            "clinician": lambda: client_as(client, clinician),
            "admin": lambda: client_as(client, admin),
            "key:read": lambda: client_as(client, headers=read_key),
            "key:predict": lambda: client_as(client, headers=predict_key),
        }[identity]()

    mismatches = []
    for (method, path), policy in sorted(MATRIX.items()):
        for identity, allowed in IDENTITIES.items():
            response = identity_client(identity).request(method, _url(path), json={})
            if policy == PUBLIC:
                expected = "answered"
            elif identity == "anonymous":
                expected = "401"
            elif policy == SIGNED_IN or policy in allowed:
                expected = "answered"
            else:
                expected = "403"
            got = str(response.status_code) if response.status_code in (401, 403) else "answered"
            if got != expected:
                mismatches.append(f"{identity} {method} {path}: {response.status_code} (expected {expected})")
            if got in ("401", "403"):
                code = response.json()["error"]["code"]
                assert code in ("not_authenticated", "forbidden"), (identity, method, path, code)
    assert not mismatches, "\n".join(mismatches)
