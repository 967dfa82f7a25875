"""The errors ssgateway raises, grouped by what the caller should do.

Every error has a stable machine-readable ``code`` (used in problem+json bodies, logs and metrics) and a
message that never contains unmasked personal data. Foreign exceptions (pydantic, httpx, lxml, zeep,
database drivers) are translated at the boundary that sees them and chained ``from exc``.

Tree::

    SSGatewayError                      code "error"
    ├── ConfigError                     fix the configuration; never retried
    │   └── MappingError                a mapping file is invalid (file, line, reason)
    ├── RecordRejected                  one input record is unusable: route it to rejects, go on
    ├── InputError                      a whole input (file, document) is unusable
    │   ├── XMLSecurityError            hostile XML refused (DOCTYPE, entities)
    │   └── ResponseTooLarge            a partner's answer passed its size cap (after decompression)
    ├── RequestInvalid                  a canonical request failed validation (HTTP 400/422)
    ├── NotFound                        lookup failed: adapter, operation, route, person
    ├── AdapterError                    a partner exchange failed
    │   ├── TransientError              retry may succeed (busy, timeout, 5xx, reset)
    │   │   └── OutcomeUnknown          the partner may have acted; reconcile before resending
    │   └── PermanentError              retrying will not help (invalid, not found, refused)
    ├── IdempotencyError                an idempotency key cannot be honoured
    │   ├── IdempotencyConflict         same key, different payload (HTTP 422)
    │   └── IdempotencyInProgress       same key still being processed (HTTP 409)
    └── StoreUnavailable                the durable store cannot be reached: fail closed
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AdapterError",
    "ConfigError",
    "IdempotencyConflict",
    "IdempotencyError",
    "IdempotencyInProgress",
    "InputError",
    "MappingError",
    "NotFound",
    "OutcomeUnknown",
    "PermanentError",
    "RecordRejected",
    "RequestInvalid",
    "ResponseTooLarge",
    "SSGatewayError",
    "StoreUnavailable",
    "TransientError",
    "XMLSecurityError",
]


class SSGatewayError(Exception):
    """Root of every ssgateway error.

    Attributes:
        code: stable identifier of the error kind, e.g. ``"config.invalid"``.
        message: human-readable text; already masked.
        details: extra JSON-serialisable facts (masked) for problem bodies and logs.
    """

    default_code: ClassVar[str] = "error"
    http_status: int = 500
    """The HTTP status the sidecar answers this error with."""

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ConfigError(SSGatewayError):
    """The configuration is invalid or incomplete; names the file, line and key where known."""

    default_code = "config.invalid"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        code: str | None = None,
    ) -> None:
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}", code=code, file=file, line=line, key=key)
        self.file, self.line, self.key, self.reason = file, line, key, message


class MappingError(ConfigError):
    """A mapping or code-list file is invalid (unknown key, unknown transform, bad XPath, ...)."""

    default_code = "mapping.invalid"


class RecordRejected(SSGatewayError):
    """One input record cannot be mapped or validated; the batch goes on without it.

    Attributes:
        position: where the record is in its input (line number, element index, ...).
        field: the canonical or source field at fault, if one is.
        raw: the offending raw value, masked when the field is personal.
        reason: why, in words.
    """

    default_code = "record.rejected"
    http_status = 422

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        raw: str | None = None,
        position: int | str | None = None,
        code: str | None = None,
    ) -> None:
        where = f"record {position}: " if position is not None else ""
        what = f"{field}: " if field else ""
        shown = f" (got {raw!r})" if raw is not None else ""
        super().__init__(f"{where}{what}{reason}{shown}", code=code, field=field, raw=raw, position=position)
        self.reason, self.field, self.raw, self.position = reason, field, raw, position


class InputError(SSGatewayError):
    """A whole input (file, document, response body) is unusable: undecodable, malformed, truncated."""

    default_code = "input.invalid"
    http_status = 400


class XMLSecurityError(InputError):
    """XML refused for safety: DOCTYPE, entities, external references, size limits."""

    default_code = "xml.forbidden"


class ResponseTooLarge(InputError):
    """A partner's answer is larger than allowed, decompressed or not (a compression bomb stops here)."""

    default_code = "response.too_large"
    http_status = 502


class RequestInvalid(SSGatewayError):
    """A canonical request does not validate against its operation's request model."""

    default_code = "request.invalid"
    http_status = 422


class NotFound(SSGatewayError):
    """Something looked up by name does not exist (adapter, operation, route, record)."""

    default_code = "not_found"
    http_status = 404


class AdapterError(SSGatewayError):
    """A partner exchange failed.

    ``partner`` names the configured partner; ``partner_code`` and ``partner_message`` keep what the
    partner said (masked). ``retry_after`` is the partner's requested wait in seconds, if it sent one.
    """

    default_code = "partner.error"
    http_status = 502
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        partner: str | None = None,
        partner_code: str | None = None,
        partner_message: str | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            code=code,
            partner=partner,
            partner_code=partner_code,
            partner_message=partner_message,
        )
        self.partner = partner
        self.partner_code = partner_code
        self.partner_message = partner_message
        self.retry_after = retry_after


class TransientError(AdapterError):
    """The partner is busy, slow or unreachable: the same request may succeed later."""

    default_code = "partner.unavailable"
    http_status = 503
    retryable = True


class OutcomeUnknown(TransientError):
    """The request may have been processed but no answer arrived (reset, timeout, truncated body).

    Retrying is safe only when the partner dedupes on a key the request carries; otherwise the
    delivery must be reconciled first.
    """

    default_code = "partner.outcome_unknown"
    http_status = 504


class PermanentError(AdapterError):
    """The partner refused the request for a reason retrying will not change."""

    default_code = "partner.refused"
    http_status = 502


class IdempotencyError(SSGatewayError):
    """An idempotency key cannot be honoured."""

    default_code = "idempotency.error"
    http_status = 409


class IdempotencyConflict(IdempotencyError):
    """The key was used before with a different payload."""

    default_code = "idempotency.conflict"
    http_status = 422


class IdempotencyInProgress(IdempotencyError):
    """The key's first request is still being processed."""

    default_code = "idempotency.in_progress"
    http_status = 409


class StoreUnavailable(SSGatewayError):
    """The durable store cannot be reached; nothing is sent without a durable claim."""

    default_code = "store.unavailable"
    http_status = 503
