"""Exception handlers: every failure becomes the same JSON envelope with a stable code."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from imaging_ai.api.schemas.errors import ErrorBody, ErrorResponse
from imaging_ai.errors import DomainError
from imaging_ai.log_config import request_id_var

logger = logging.getLogger(__name__)

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


class PayloadTooLargeError(StarletteHTTPException):
    """Raised while a request body streams in, as soon as it passes the upload limit.

    It is an HTTPException so that FastAPI's form parsing re-raises it unchanged instead of
    turning it into a generic 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413, detail=f"The request body is larger than the limit of {limit} bytes."
        )
        self.limit = limit


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(code=code, message=message, details=details or {}, request_id=request_id_var.get())
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if exc.status_code >= 500:
        logger.error("domain error", extra={"code": exc.code})
    return error_response(exc.status_code, exc.code, exc.message, exc.details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, "http_error")
    details: dict[str, Any] = {}
    if isinstance(exc, PayloadTooLargeError):
        details = {"limit_bytes": exc.limit}
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    return error_response(exc.status_code, code, message, details, headers=dict(exc.headers or {}))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is deliberately left out: it may be patient data.
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": error.get("msg"),
            "type": error.get("type"),
        }
        for error in exc.errors()
    ]
    return error_response(422, "validation_error", "The request is not valid.", {"errors": errors})


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "An internal error occurred; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
