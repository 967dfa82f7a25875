"""The HTTP sidecar: canonical JSON in, canonical JSON out, over a :class:`~ssgateway.runtime.Gateway`.

Starlette on uvicorn. Starlette rather than FastAPI: the operations, their request and response models
and the OpenAPI document all come from the operation registry, so FastAPI's signature-driven routing
would add only its per-request cost (see docs/gateway.md for the measured difference).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import re
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ssgateway.errors import ConfigError, NotFound, SSGatewayError
from ssgateway.log import new_request_id, request_id
from ssgateway.masking import mask_text
from ssgateway.operations import OPERATIONS, get_operation
from ssgateway.runtime.gateway import ReplayedError
from ssgateway.server.auth import ApiKeys
from ssgateway.server.openapi import openapi_document
from ssgateway.server.problems import problem, problem_from_error

if TYPE_CHECKING:
    from ssgateway.runtime.gateway import Gateway

__all__ = ["MAX_BODY_BYTES", "create_app", "listen_socket"]

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest request body accepted (a payment batch of 50,000 instructions fits)."""

log = logging.getLogger("ssgateway.access")
server_log = logging.getLogger("ssgateway.server")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _AccessLog:
    """Pure ASGI middleware: a request id for every request, one JSON access-log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # a caller's own id is kept when it is plainly an id: never one that looks like personal data
        rid = given if _REQUEST_ID.fullmatch(given) and mask_text(given) == given else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                    "caller": scope["state"].get("caller"),
                },
            )
            request_id.reset(token)


def _validation_problem(exc: ValidationError, rid: str) -> Response:
    errors = [
        {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_input=False, include_url=False)
    ]
    return problem(422, "request.invalid", "the request does not validate", request_id=rid, errors=errors)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` (never read past it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port) for uvicorn to serve on.

    Raises:
        ConfigError: the address cannot be bound (code ``server.listen``), with what to do about it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without it a plain asyncio loop answered ~40 ms late (Nagle)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); if another process holds the port, "
            "choose another with --port (0 picks a free one)",
            code="server.listen",
        ) from None
    sock.set_inheritable(True)
    return sock


def create_app(gateway: Gateway, *, max_body: int = MAX_BODY_BYTES) -> Starlette:
    """The sidecar application for ``gateway``.

    The app's lifespan starts and closes the gateway, unless it was started already: then its starter
    closes it (``ssgateway serve`` starts it first, so a configuration problem is one clear error).
    """
    keys = ApiKeys(gateway.config.api_keys)
    if not keys:
        server_log.warning("no API keys are configured: every operation call is refused")
    document = openapi_document(list(OPERATIONS.values()))
    metrics = gateway.metrics

    async def call_operation(request: Request) -> Response:
        rid: str = request.scope["state"]["request_id"]
        name: str = request.path_params["operation"]
        start = time.perf_counter()
        try:
            response = await _handle(request, name, rid)
        except Exception:  # noqa: BLE001 - answered as a 500 problem and logged with its traceback
            # a defect, not a partner's answer: logged (masked) with the request id, answered as a problem
            server_log.exception("%s failed unexpectedly", name)
            response = problem(
                500, "internal", "an unexpected error; the log names it by this request id", request_id=rid
            )
        if name in OPERATIONS:
            metrics.requests.labels(name, str(response.status_code)).inc()
            metrics.request_seconds.labels(name).observe(time.perf_counter() - start)
        return response

    async def _handle(request: Request, name: str, rid: str) -> Response:
        try:
            operation = get_operation(name)
        except NotFound as exc:
            return problem_from_error(exc, request_id=rid)
        caller = keys.authenticate(request.headers)
        if caller is None:
            return problem(
                401, "auth.required", "a valid API key is required", request_id=rid,
                headers={"WWW-Authenticate": 'Bearer realm="ssgateway"'},
            )  # fmt: skip
        request.scope["state"]["caller"] = caller.id
        if not caller.may(name):
            return problem(403, "auth.forbidden", f"this API key may not call {name}", request_id=rid)
        if request.url.query:
            return problem(
                400,
                "request.query_refused",
                "send everything in the JSON body, nothing in the URL",
                request_id=rid,
            )
        if "json" not in request.headers.get("content-type", "application/json"):
            return problem(415, "request.media_type", "send application/json", request_id=rid)
        try:
            body = await _body(request, max_body)
        except ClientDisconnect:
            return Response(status_code=400)  # the caller went away: nobody reads this
        if body is None:
            return problem(413, "request.too_large", f"the body exceeds {max_body} bytes", request_id=rid)
        try:
            canonical = operation.request.model_validate_json(body)
        except ValidationError as exc:
            return _validation_problem(exc, rid)
        key = request.headers.get("idempotency-key")
        if operation.mutating and not key:
            return problem(
                400,
                "idempotency.key_required",
                f"{name} changes state: send an Idempotency-Key header",
                request_id=rid,
            )
        try:
            result = await gateway.call(name, canonical, idempotency_key=key, caller=caller.id)
        except ReplayedError as exc:  # the stored answer to this key was an error: the same error again
            return problem_from_error(exc, request_id=rid, headers={"Idempotent-Replayed": "true"})
        except SSGatewayError as exc:
            return problem_from_error(exc, request_id=rid)
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(result.json(), media_type="application/json", headers=headers)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        ready, checks = await gateway.readiness()
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    async def metrics_endpoint(_request: Request) -> Response:
        await gateway.refresh_metrics()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi(_request: Request) -> Response:
        return Response(json.dumps(document, ensure_ascii=False), media_type="application/json")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http.error")
        rid = request.scope.get("state", {}).get("request_id")
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None  # 405 keeps its Allow
        detail = f"{request.method} {request.url.path} is not an endpoint"
        return problem(status, code, detail, request_id=rid, headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = not gateway.started  # a gateway started by the caller is closed by the caller
        if owned:
            await gateway.start()
        try:
            # Everything loaded so far (contracts, compiled mappings, schemas) lives as long as the process:
            # keep it out of the collector's scans, and collect young objects less often, so requests do not
            # pay for full collections of it.
            gc.collect()
            gc.freeze()
            gc.set_threshold(20_000, 50, 100)
            yield
        finally:
            if owned:
                await gateway.close()

    app = Starlette(
        routes=[
            Route("/v1/ops/{operation}", call_operation, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers={404: http_error, 405: http_error},
    )
    app.add_middleware(_AccessLog)
    return app
