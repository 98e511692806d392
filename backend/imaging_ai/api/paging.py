"""Query parameters shared by the paged lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

MAX_OFFSET = 2**31 - 1
"""Bounded so that no offset overflows a database integer (PostgreSQL refuses a BIGINT overflow)."""

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (paging).")]


def _in_utc(value: datetime) -> datetime:
    """The same instant in UTC (a value without an offset is taken as UTC, as stored)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-14:00 is a valid date-time but past datetime.max in UTC (and
        # 0001-01-01T00:00:00+14:00 before datetime.min): the filter cannot be run, a client error.
        raise PydanticCustomError(
            "datetime_out_of_range", "The date and time is out of range once converted to UTC."
        ) from None


FilterDatetime = Annotated[datetime, AfterValidator(_in_utc)]
"""A date-time filter, converted to UTC here so that an out-of-range instant is a 422, never a 500."""

AwareFilterDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""The same, with the UTC offset required."""
