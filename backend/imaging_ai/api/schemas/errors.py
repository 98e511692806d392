"""The one error envelope every failure is answered with (also 404, 405, 413 and 422)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code.", examples=["corrupt_dicom"])
    message: str = Field(description="Human-readable explanation.", examples=["The DICOM file is truncated."])
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context, code-specific.")
    request_id: str | None = Field(
        default=None, description="Id of the request, also in the X-Request-ID header."
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the envelope for the given statuses."""
    descriptions = {
        400: "Bad request.",
        404: "Not found.",
        409: "Conflict with the current state.",
        413: "Upload or image too large.",
        415: "Unsupported image format.",
        422: "Invalid input.",
        503: "Not ready.",
    }
    return {
        status: {"model": ErrorResponse, "description": descriptions.get(status, "Error.")}
        for status in statuses
    }
