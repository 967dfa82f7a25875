"""How the simulated bank's fault rules change an answer: instead of the work, or after it.

The bank has no error document of its own beyond HTTP, so ``FAULT`` rules answer a plain HTTP 500, like an
``HTTP_ERROR`` rule with status 500. See :mod:`ssgateway.testing.bank`.
"""

from __future__ import annotations

from ssgateway.testing.faultplan import FaultKind, FaultRule, gzip_bomb
from ssgateway.testing.httpserver import Fault, Response

__all__ = ["early_answer", "spoil"]

_XML = "application/xml; charset=utf-8"


def early_answer(rule: FaultRule) -> Response:
    """The answer of a rule that strikes before any work is done (nothing is booked)."""
    if rule.kind is FaultKind.GZIP_BOMB:
        bomb = gzip_bomb(rule.size, rule.body, rule.fill)
        return Response(200, bomb, {"content-type": _XML, "content-encoding": "gzip"})
    if rule.kind is FaultKind.BODY:
        return Response(200, rule.body, {"content-type": _XML})
    status = rule.status if rule.kind is FaultKind.HTTP_ERROR else 500
    headers = {"content-type": "text/plain"}
    if rule.retry_after is not None:
        headers["retry-after"] = f"{rule.retry_after:g}"
    return Response(status, b"service unavailable", headers)


def spoil(response: Response, rule: FaultRule) -> Response:
    """The answer of a rule that strikes after the work was done (booked): dropped, cut or padded."""
    if rule.kind is FaultKind.RESET:
        response.fault = Fault.RESET
    elif rule.kind is FaultKind.TRUNCATE:
        response.fault = Fault.TRUNCATE
    elif rule.kind is FaultKind.BLACKHOLE:
        response.fault = Fault.BLACKHOLE
    elif rule.kind is FaultKind.MALFORMED:
        response.body = response.body[: len(response.body) // 2]
    elif rule.kind is FaultKind.OVERSIZED:
        response.body += b" " * max(0, rule.size - len(response.body))
    return response
