"""Errors as ``application/problem+json`` (RFC 9457), with ssgateway's stable error ``code``."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ssgateway.errors import IdempotencyInProgress, SSGatewayError
from ssgateway.masking import mask_data, mask_text

__all__ = ["PROBLEM_TYPE_BASE", "problem", "problem_from_error"]

PROBLEM_TYPE_BASE = "https://ssgateway.invalid/problems/"
"""Problem ``type`` URIs are this base plus the error code (identifiers, not pages to fetch)."""
MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    500: "Internal error",
    502: "Partner error",
    503: "Unavailable",
    504: "Partner outcome unknown",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem response. ``detail`` and every string in ``extra`` are masked before they are sent."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": mask_text(detail),
        "code": code,
    }
    if request_id:
        body["request_id"] = request_id
    body.update({k: mask_data(v) for k, v in extra.items() if v is not None})
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def problem_from_error(
    exc: SSGatewayError, *, request_id: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """The problem response for one of our errors: its HTTP status, code and (masked) message."""
    extra: dict[str, Any] = {}
    partner = exc.details.get("partner")
    if partner:
        extra["partner"] = partner
    if exc.details.get("partner_code"):
        extra["partner_code"] = exc.details["partner_code"]
    headers = dict(headers or {})
    retry_after = getattr(exc, "retry_after", None) or exc.details.get("retry_after")
    if isinstance(exc, IdempotencyInProgress):
        # the first request usually answers within a second; its lease only bounds a holder that died
        retry_after = 1
    if retry_after:
        headers["Retry-After"] = str(max(1, round(float(retry_after))))
    return problem(
        exc.http_status, exc.code, exc.message, request_id=request_id, headers=headers or None, **extra
    )
