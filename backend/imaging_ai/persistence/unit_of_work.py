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


def end_transaction(session: Session) -> None:
    """Commit the request's transaction now, before slow work that needs no database.

    A read-only route's transaction would otherwise last until the route returns: on SQLite every
    transaction holds the write lock (BEGIN IMMEDIATE), so decoding an image inside it stalls every
    other request. Objects already loaded stay usable (sessions do not expire them on commit); a
    later query starts a new transaction, which `transaction` commits as usual. What was committed
    here is kept if that later transaction fails: its undo hooks are dropped.
    """
    session.commit()
    session.info.pop(_HOOKS_KEY, None)
