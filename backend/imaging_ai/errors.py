"""Domain errors. Each carries a stable machine-readable ``code`` and the HTTP status it maps to,
so the API layer can answer every failure with the same JSON envelope and document it."""

from __future__ import annotations


class DomainError(Exception):
    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details: dict[str, object] = details or {}


class NotFoundError(DomainError):
    status_code = 404
    code = "not_found"


class ImageRejectedError(DomainError):
    """An upload that is not an acceptable image (the code says why)."""

    status_code = 422
    code = "invalid_image"
