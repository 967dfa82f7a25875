"""Routing: which configured partner serves an operation for a region.

Each partner serves some operations for some region-code prefixes (``"41"`` Henan, ``"4101"`` Zhengzhou).
The longest matching prefix wins, so a city's own system can take over part of a province. A partner
configured without regions serves every region (banks, national platforms).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ssgateway.errors import NotFound
from ssgateway.masking import mask_text

__all__ = ["Route", "Router"]


@dataclass(frozen=True, slots=True)
class Route:
    """A partner's share of the routing table."""

    partner: str
    operations: frozenset[str]
    prefixes: tuple[str, ...]

    def match(self, region: str | None) -> int:
        """Length of the longest prefix of this route matching ``region`` (0 when it serves all, -1 none)."""
        if not self.prefixes:
            return 0
        if region is None:
            return -1
        lengths = [len(p) for p in self.prefixes if region.startswith(p)]
        return max(lengths) if lengths else -1


class Router:
    """Picks partners for operations and regions."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)

    def serving(self, operation: str) -> list[Route]:
        """Every route that serves ``operation``."""
        return [r for r in self.routes if operation in r.operations]

    def route(self, operation: str, region: str | None) -> Route:
        """The partner for ``operation`` in ``region``: the longest matching prefix wins.

        Raises:
            NotFound: no configured partner serves the operation there (code ``route.none``).
        """
        candidates = [(r.match(region), r) for r in self.serving(operation)]
        matching = [(score, r) for score, r in candidates if score >= 0]
        if not matching:
            where = f" for region {mask_text(region)}" if region else ""
            served = sorted({p for r in self.serving(operation) for p in r.prefixes})
            hint = f"; partners serve regions {', '.join(served)}" if served else "; no partner serves it"
            raise NotFound(f"no partner serves {operation}{where}{hint}", code="route.none")
        best = max(score for score, _ in matching)
        winners = [r for score, r in matching if score == best]
        return winners[0]

    def regions(self, operation: str) -> list[tuple[str, Route]]:
        """One (prefix, route) per region prefix served for ``operation``, for fan-out."""
        return [(prefix, r) for r in self.serving(operation) for prefix in (r.prefixes or ("",))]
