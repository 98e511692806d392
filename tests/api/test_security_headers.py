"""Browser hardening on every answer, and CORS only for configured origins."""

from __future__ import annotations

from fastapi.testclient import TestClient

from imaging_ai.api.app import create_app
from imaging_ai.settings import Settings


def test_every_answer_carries_the_security_headers(anonymous_client: TestClient) -> None:
    for path in ("/healthz", "/api/v1/tasks", "/api/v1/nothing-here", "/"):
        response = anonymous_client.get(path)
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
        assert "strict-transport-security" not in headers  # only when cookies are Secure (HTTPS)
    assert anonymous_client.get("/api/v1/tasks").headers["cache-control"] == "no-store"
    docs = anonymous_client.get("/docs")
    assert docs.status_code == 200 and "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_cors_answers_only_configured_origins(settings: Settings) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    with TestClient(create_app(settings)) as closed:
        answer = closed.options(
            "/api/v1/predictions", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in answer.headers
    allowed = settings.model_copy(update={"allowed_origins": ["https://viewer.hospital.example"]})
    with TestClient(create_app(allowed)) as open_client:
        good = open_client.options(
            "/api/v1/predictions", headers={"Origin": "https://viewer.hospital.example", **preflight}
        )
        assert good.headers["access-control-allow-origin"] == "https://viewer.hospital.example"
        bad = open_client.options(
            "/api/v1/predictions", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in bad.headers
