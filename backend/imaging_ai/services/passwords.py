"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from imaging_ai.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 256  # bounds the hashing work one request can ask for

# argon2-cffi's defaults follow RFC 9106's second recommendation (Argon2id, 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified when the user does not exist, so that a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password; equalises timing")


class WeakPasswordError(DomainError):
    status_code = 422
    code = "weak_password"


def check_policy(password: str, *, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"A password needs at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(f"A password has at most {MAX_LENGTH} characters.")
    if username.lower() in password.lower():
        raise WeakPasswordError("A password may not contain the user name.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
