"""The HTTP sidecar: ``create_app(gateway)`` and what it is made of (auth, problems, OpenAPI)."""

from ssgateway.server.app import MAX_BODY_BYTES, create_app, listen_socket
from ssgateway.server.auth import ApiKeys, Caller, hash_key, new_key
from ssgateway.server.openapi import openapi_document
from ssgateway.server.problems import problem, problem_from_error

__all__ = [
    "MAX_BODY_BYTES",
    "ApiKeys",
    "Caller",
    "create_app",
    "hash_key",
    "listen_socket",
    "new_key",
    "openapi_document",
    "problem",
    "problem_from_error",
]
