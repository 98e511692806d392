"""Password hashing (Argon2id) and the password policy.

Argon2 is slow and memory-hard on purpose (64 MiB, 3 passes, 4 threads a hash), which makes it the
cheapest way to load the server: any anonymous client can ask for it by failing to sign in. So every
hash and check runs on a small pool of dedicated threads: at most `HASH_THREADS` at a time (bounding
its memory to that many times 64 MiB; more wait their turn), at a lower scheduling priority, so that
requests which need the CPU get it first and a flood of failed sign-ins slows sign-ins, not the service.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from imaging_ai.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 256  # bounds the hashing work one request can ask for

# argon2-cffi's defaults follow RFC 9106's second recommendation (Argon2id, 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified when the user does not exist, so that a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password; equalises timing")


HASH_THREADS = 2
# Linux weights a nice-10 thread at about a tenth of a normal one: hashing still progresses under load
# (a nice value of 19 would starve sign-ins while the CPU is busy), but yields to requests.
_HASH_NICENESS = 10


def _lower_priority() -> None:
    # On Linux the nice value is a thread's own (and inherited by Argon2's lane threads). Elsewhere, or
    # where it is not allowed, hashing runs at normal priority (still at most HASH_THREADS at a time).
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _HASH_NICENESS)


_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2", initializer=_lower_priority)


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
    return _pool.submit(_hasher.hash, password).result()


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    return _pool.submit(_verify, password_hash, password).result()


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
