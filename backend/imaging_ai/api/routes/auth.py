"""Signing in and out of the web app, who am I, and changing one's own password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from imaging_ai.api.deps import (
    AccountServiceDep,
    AuthenticatorDep,
    SettingsDep,
    SignInServiceDep,
    client_address,
)
from imaging_ai.api.schemas.accounts import LoginRequest, PasswordChange, SessionPublic, UserPublic
from imaging_ai.api.schemas.errors import error_responses
from imaging_ai.api.security import CSRF_COOKIE, PUBLIC, SESSION_COOKIE, SignedIn
from imaging_ai.services.accounts.identity import Principal
from imaging_ai.services.accounts.users import AccountService
from imaging_ai.settings import Settings

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/login",
    summary="Sign in",
    description=(
        "Checks the password and starts a session: an HttpOnly `imaging_ai_session` cookie, and the CSRF "
        "token (in the body and in the readable `imaging_ai_csrf` cookie) to send back in `X-CSRF-Token`. "
        "Repeated failures lock the user name (429 `account_locked`) or the client address "
        "(429 `too_many_attempts`) for a while; no answer reveals whether a user exists."
    ),
    dependencies=[PUBLIC],
    responses=error_responses(401, 422, 429),
)
def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    sign_in: SignInServiceDep,
    accounts: AccountServiceDep,
    settings: SettingsDep,
) -> SessionPublic:
    signed_in = sign_in.sign_in(
        body.username, body.password.get_secret_value(), client_address=client_address(request)
    )
    principal = signed_in.principal
    max_age = int(settings.session_hours * 3600)
    cookie = {"max_age": max_age, "secure": settings.cookie_secure, "samesite": "strict", "path": "/"}
    response.set_cookie(SESSION_COOKIE, signed_in.session_token, httponly=True, **cookie)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, principal.csrf_token or "", httponly=False, **cookie)  # type: ignore[arg-type]
    return _session_public(principal, accounts)


@router.get(
    "/me",
    summary="Who am I",
    description="The signed-in user (or the API key's service account), what it may do, and the session's "
    "CSRF token, so that a reloaded web app can carry on.",
)
def me(principal: SignedIn, accounts: AccountServiceDep) -> SessionPublic:
    return _session_public(principal, accounts)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    description="Ends the session for good, clears its cookies and asks the browser to drop its cache and "
    "storage (`Clear-Site-Data`), so that no image viewed in the session outlives it on a shared computer.",
)
def logout(principal: SignedIn, authenticator: AuthenticatorDep, settings: SettingsDep) -> Response:
    authenticator.sign_out(principal)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _end_browser_session(response, settings)
    return response


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change my password",
    description="Needs the current password. Every session of the user ends, this one included. A wrong "
    "current password (403 `invalid_credentials`) counts as a failed sign-in of the account and is "
    "audited; repeated failures lock the account (429 `account_locked`) like failed sign-ins do.",
    responses=error_responses(422, 429),
)
def change_password(
    body: PasswordChange, principal: SignedIn, sign_in: SignInServiceDep, settings: SettingsDep
) -> Response:
    # No request transaction here: the service checks and hashes passwords between short transactions.
    sign_in.change_password(
        principal, body.current_password.get_secret_value(), body.new_password.get_secret_value()
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _end_browser_session(response, settings)
    return response


def _session_public(principal: Principal, accounts: AccountService) -> SessionPublic:
    return SessionPublic(
        user=UserPublic.from_record(accounts.get_user(principal.user_id)),
        permissions=sorted(permission.value for permission in principal.permissions),
        credential=principal.credential,
        csrf_token=principal.csrf_token,
        expires_at=principal.session_expires_at,
    )


def _end_browser_session(response: Response, settings: Settings) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=settings.cookie_secure, samesite="strict")
    # Images are sent `no-store`, but a browser may still hold older answers (or a build that cached
    # them), and the web app keeps its view preferences in local storage: on a shared workstation the
    # next person must find none of it. The session's cookies are deleted above, by name.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
