"""Query parameters shared by the paged lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 2**31 - 1
"""Bounded so that no offset overflows a database integer (PostgreSQL refuses a BIGINT overflow)."""

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (paging).")]
