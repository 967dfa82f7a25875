"""The sidecar's OpenAPI document, built from the operation registry and the canonical models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ssgateway._version import __version__
from ssgateway.model import SCHEMA_VERSION
from ssgateway.operations import Operation

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error (RFC 9457) with ssgateway's stable error code.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "partner": {"type": "string"},
        "partner_code": {"type": "string"},
    },
    "required": ["type", "title", "status", "code"],
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


def openapi_document(operations: list[Operation]) -> dict[str, Any]:
    """OpenAPI 3.1: one ``POST /v1/ops/<name>`` path per operation, canonical schemas as components."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(op.request, "validation") for op in operations]
    wanted += [(op.response, "serialization") for op in operations]
    keys, defs = models_json_schema(wanted, ref_template=_REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = {}
    for op in operations:
        request_ref = keys[(op.request, "validation")]
        response_ref = keys[(op.response, "serialization")]
        parameters = []
        if op.mutating:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "description": "Unique per intended change; a resend with it replays the result.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            )
        responses: dict[str, Any] = {
            "200": {
                "description": "The canonical response.",
                "content": {"application/json": {"schema": response_ref}},
                **(
                    {"headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}}}
                    if op.mutating
                    else {}
                ),
            },
            "400": _problem("Bad request (malformed JSON, missing Idempotency-Key)."),
            "401": _problem("No valid API key."),
            "403": _problem("The API key may not call this operation."),
            "404": _problem("Nothing found, or no partner serves the request's region."),
            "413": _problem("The body is too large."),
            "415": _problem("The body is not JSON."),
            "422": _problem(
                "The request does not validate, or an Idempotency-Key was reused with another payload."
            ),
            "502": _problem("The partner refused or failed."),
            "503": _problem("The partner or the store is unavailable; retry later."),
            "504": _problem("The partner may have acted but did not answer."),
        }
        if op.mutating:
            responses["409"] = _problem("A request with this Idempotency-Key is still in flight.")
        paths[f"/v1/ops/{op.name}"] = {
            "post": {
                "operationId": op.name.replace(".", "_"),
                "summary": op.summary,
                "tags": [op.name.split(".", 1)[0]],
                "parameters": parameters,
                "requestBody": {"required": True, "content": {"application/json": {"schema": request_ref}}},
                "responses": responses,
                "security": [{"apiKey": []}, {"bearer": []}],
            }
        }
    for path, summary in (
        ("/healthz", "Alive."),
        ("/readyz", "Ready: store reachable, required partners usable."),
    ):
        paths[path] = {
            "get": {
                "summary": summary,
                "security": [],
                "responses": {"200": {"description": "Yes."}, "503": {"description": "No."}},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ssgateway sidecar",
            "version": __version__,
            "description": f"Canonical operations over local HTTP (canonical model v{SCHEMA_VERSION}).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
