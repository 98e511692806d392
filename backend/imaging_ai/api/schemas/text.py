"""Text accepted from clients: no control characters, anywhere.

NUL is the reason this exists: PostgreSQL refuses it in text (the request would fail with a 500 there
and succeed on SQLite), and names or ids with control characters (escape sequences, line breaks)
can forge lines in logs and mislead readers of the audit log. Every text field of
the API, in bodies and in query, form and path parameters, is one of these two types; a refusal is a
422 ``validation_error`` whose error ``type`` is ``control_character``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# Unicode category Cc (C0, DEL, C1) and lone surrogates (not encodable as UTF-8: the database driver
# would fail on them too).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Free text may have several lines and tabs; nothing else below the space.
_CONTROL_IN_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse(pattern: re.Pattern[str], allowed: str) -> AfterValidator:
    def check(value: str) -> str:
        if pattern.search(value):
            raise PydanticCustomError(
                "control_character", "Control characters are not allowed here{allowed}.", {"allowed": allowed}
            )
        return value

    return AfterValidator(check)


Text = Annotated[str, _refuse(_CONTROL, "")]
"""A name, id, label, site or other one-line value: no control character at all."""

FreeText = Annotated[str, _refuse(_CONTROL_IN_FREE_TEXT, " (except tab, line feed and carriage return)")]
"""Notes and reasons written by people: tab, line feed and carriage return allowed."""
