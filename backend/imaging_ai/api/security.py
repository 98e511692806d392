"""Who may call what: every route declares an access policy, checked here.

A route's policy is a dependency: `Public()` (health, sign-in, docs) or `Requires(permission)`.
`enforce_route_policies` runs when the app is built and refuses to start an app with a route that
declares none, so a new route cannot be public by accident; it also documents 401/403 on each
protected route.

Credentials: machines send `Authorization: Bearer <api key>`; the web app holds a session in an
HttpOnly cookie and must echo its CSRF token in `X-CSRF-Token` on every state-changing request
(double submit, checked against the token stored with the session).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from imaging_ai.api.deps import StateDep, client_address
from imaging_ai.errors import DomainError
from imaging_ai.persistence.unit_of_work import transaction
from imaging_ai.services.accounts.authentication import Authenticator
from imaging_ai.services.accounts.identity import Permission, Principal

SESSION_COOKIE = "imaging_ai_session"
CSRF_COOKIE = "imaging_ai_csrf"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A service account's API key: `Authorization: Bearer iai_...`.",
)
_session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="SessionCookie",
    description="The web app's session (set by `POST /api/v1/auth/login`). State-changing requests "
    f"must also send the session's CSRF token in `{CSRF_HEADER}`.",
)


class NotAuthenticatedError(DomainError):
    status_code = 401
    code = "not_authenticated"


class ForbiddenError(DomainError):
    status_code = 403
    code = "forbidden"


class CsrfError(DomainError):
    status_code = 403
    code = "csrf_failed"


class RoutePolicy:
    """Marker base of the access policies, found by `enforce_route_policies`."""

    permission: Permission | None = None
    public: bool = False


class Public(RoutePolicy):
    """Anyone may call the route."""

    public = True

    def __call__(self) -> None:
        return None


class Requires(RoutePolicy):
    """The caller must be authenticated and, when `permission` is given, hold it."""

    def __init__(self, permission: Permission | None = None) -> None:
        self.permission = permission

    def __call__(
        self,
        request: Request,
        state: StateDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        session_token: Annotated[str | None, Depends(_session_cookie)],
    ) -> Principal:
        # Its own short transaction, not the request's: on SQLite every transaction holds the write
        # lock, and the request's would then span the upload, decoding and inference, serialising
        # every request (and leaving micro-batching nothing to batch).
        with transaction(state.session_factory) as session:
            principal = authenticate(request, Authenticator(session), bearer, session_token)
        if self.permission is not None and not principal.can(self.permission):
            raise ForbiddenError(
                "Your account is not allowed to do this.", details={"required": self.permission.value}
            )
        return principal


def authenticate(
    request: Request,
    authenticator: Authenticator,
    bearer: HTTPAuthorizationCredentials | None,
    session_token: str | None,
) -> Principal:
    address = client_address(request)
    if bearer is not None:
        principal = authenticator.from_api_key(bearer.credentials, client_address=address)
        if principal is None:
            raise NotAuthenticatedError(
                "The API key is not valid (unknown, expired or revoked).",
                code="invalid_api_key",
            )
    elif session_token:
        principal = authenticator.from_session_token(session_token, client_address=address)
        if principal is None:
            raise NotAuthenticatedError("The session has ended; sign in again.", code="session_expired")
        if request.method in _UNSAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
                raise CsrfError(f"State-changing requests need the session's `{CSRF_HEADER}` header.")
    else:
        raise NotAuthenticatedError("Sign in, or send an API key as `Authorization: Bearer <key>`.")
    request.state.principal = principal
    return principal


PUBLIC = Depends(Public())
"""For `dependencies=[PUBLIC]` on routes anyone may call."""

SignedIn = Annotated[Principal, Depends(Requires())]
CanRead = Annotated[Principal, Depends(Requires(Permission.READ))]
CanPredict = Annotated[Principal, Depends(Requires(Permission.PREDICT))]
CanReview = Annotated[Principal, Depends(Requires(Permission.REVIEW))]
IsAdmin = Annotated[Principal, Depends(Requires(Permission.ADMIN))]


@dataclass(frozen=True)
class DeclaredRoute:
    path: str
    methods: tuple[str, ...]
    policies: tuple[RoutePolicy, ...]
    """Every policy in the route's dependency tree, router-level ones included."""

    @property
    def public(self) -> bool:
        return bool(self.policies) and all(policy.public for policy in self.policies)

    @property
    def permissions(self) -> frozenset[Permission]:
        return frozenset(policy.permission for policy in self.policies if policy.permission is not None)


def declared_routes(app: FastAPI) -> list[DeclaredRoute]:
    """The app's API routes as served (prefixes and router dependencies applied), with their policies."""
    declared = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        methods = tuple(sorted(context.methods or ()))
        policies = tuple(_policies_in(context.dependant))
        declared.append(DeclaredRoute(str(context.path_format), methods, policies))
    return declared


def _policies_in(dependant: Dependant) -> Iterator[RoutePolicy]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoutePolicy):
            yield sub.call
        yield from _policies_in(sub)


def enforce_route_policies(app: FastAPI) -> None:
    """Refuses routes without a policy. Documents in the schema the answers every route may give:
    401/403 on the protected ones, 400 on those with a body."""
    routes = declared_routes(app)
    undeclared = [f"{','.join(route.methods)} {route.path}" for route in routes if not route.policies]
    if undeclared:
        raise RuntimeError(f"routes without an access policy: {'; '.join(undeclared)}")
    protected = {
        (route.path, method.lower()) for route in routes if not route.public for method in route.methods
    }

    build_schema = app.openapi

    def openapi_with_common_errors() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build_schema()
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                responses = operation["responses"]
                if (path, method) in protected:
                    for status in ("401", "403"):
                        responses.setdefault(status, _error_response(_COMMON_ERRORS[status]))
                if "requestBody" in operation:
                    responses.setdefault("400", _error_response(_COMMON_ERRORS["400"]))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi_with_common_errors  # type: ignore[method-assign]


_COMMON_ERRORS = {
    "400": "The body could not be parsed (not UTF-8, not JSON, or a broken multipart form).",
    "401": "Not signed in, or the API key is not valid.",
    "403": "Signed in, but not allowed (role or key scope), or the CSRF token is missing.",
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def requires(permission: Permission) -> Any:
    """For `dependencies=[requires(...)]` on routes (or routers) that do not use the principal."""
    return Depends(Requires(permission))
