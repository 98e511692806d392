"""One transaction per request or job, committed at its edge.

Some work has effects outside the database (a file written to the image store). Such work registers
an undo hook with :func:`on_rollback`, so that when the transaction fails (in the code or in the
commit itself) nothing is left half-written on disk either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

_HOOKS_KEY = "on_rollback_hooks"


def on_rollback(session: Session, hook: Callable[[], None]) -> None:
    session.info.setdefault(_HOOKS_KEY, []).append(hook)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
        session.info.pop(_HOOKS_KEY, None)
    except BaseException:
        session.rollback()
        for hook in reversed(session.info.pop(_HOOKS_KEY, [])):
            try:
                hook()
            except Exception:
                logger.exception("rollback hook failed")
        raise
    finally:
        session.close()
