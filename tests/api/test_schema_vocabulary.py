"""The API's literals list every state of the domain's enums, in the enums' order."""

from __future__ import annotations

from typing import get_args

import pytest

from imaging_ai import vocabulary
from imaging_ai.api.schemas import vocabulary as api

STATES = {
    name: value
    for name, value in vars(vocabulary).items()
    if isinstance(value, type) and issubclass(value, vocabulary.State) and value is not vocabulary.State
}


@pytest.mark.parametrize("name", sorted(STATES))
def test_each_literal_lists_every_member(name: str) -> None:
    assert get_args(getattr(api, name)) == tuple(STATES[name])


def test_every_state_enum_is_declared_by_the_api() -> None:
    states = {
        name
        for name, value in vars(vocabulary).items()
        if isinstance(value, type) and value.__base__ is vocabulary.State
    }
    assert states == {name for name in vars(api) if name in states}


def test_validation_messages_name_the_values() -> None:
    assert repr(vocabulary.PredictionStatus.final) == "'final'"
