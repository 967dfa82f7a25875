"""Functions that mappings in the tests name in ``custom`` transforms."""

from __future__ import annotations

from typing import Any

from ssgateway.mapping import custom_transform


@custom_transform
def strip_titles(value: Any) -> Any:
    """A marked transform: drop an honorific after a name."""
    if value is None:
        return None
    text = str.__str__(value)
    for title in ("女士", "先生"):
        text = text.removesuffix(title)
    if not text:
        raise ValueError("a name is more than a title")
    return text


@custom_transform
def breaks(value: Any) -> Any:
    """A marked transform with a bug: it fails with an exception that quotes the value."""
    raise KeyError(value)


def unmarked(value: Any) -> Any:
    """A plain function nobody marked as a mapping transform."""
    return value


class Step:
    """A class is not a transform."""

    def __init__(self, value: Any) -> None:
        self.value = value
