"""respx support for :class:`~ssgateway.httptransport.PooledTransport`, the transport partner adapters use.

respx mocks httpcore by default, which partner adapters do not go through. Importing this module
registers a respx mocker named ``"ssgateway"`` that intercepts both our transport and httpcore; use it with
``respx.mock(using="ssgateway")``, or make it the default for a whole test suite::

    import respx.mocks
    import ssgateway.testing.respxmocker  # noqa: F401 - registers the mocker

    respx.mocks.DEFAULT_MOCKER = "ssgateway"

Answers keep their raw bytes (a gzip body stays compressed), so capped decompression is exercised too.
"""

from __future__ import annotations

from typing import Any

import httpcore
import httpx
from respx.mocks import AbstractRequestMocker, HTTPCoreMocker

__all__ = ["PooledTransportMocker"]


class PooledTransportMocker(AbstractRequestMocker):
    """Intercepts :class:`~ssgateway.httptransport.PooledTransport` and httpcore alike."""

    name = "ssgateway"
    targets = ["ssgateway.httptransport.PooledTransport", *HTTPCoreMocker.targets]  # noqa: RUF012 - respx's API
    target_methods = ["handle_request", "handle_async_request"]  # noqa: RUF012 - respx's API

    @classmethod
    async def prepare_async_request(cls, httpx_request: httpx.Request, **kwargs: Any) -> Any:
        """Read the request body (and hand httpcore its stream back)."""
        if isinstance(kwargs.get("request"), httpcore.Request):
            return await HTTPCoreMocker.prepare_async_request(httpx_request, **kwargs)
        return await super().prepare_async_request(httpx_request, **kwargs)

    @classmethod
    def prepare_sync_request(cls, httpx_request: httpx.Request, **kwargs: Any) -> Any:
        """Read the request body (and hand httpcore its stream back)."""
        if isinstance(kwargs.get("request"), httpcore.Request):
            return HTTPCoreMocker.prepare_sync_request(httpx_request, **kwargs)
        return super().prepare_sync_request(httpx_request, **kwargs)

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        """The request as httpx sees it."""
        request = kwargs["request"]
        if isinstance(request, httpcore.Request):
            return HTTPCoreMocker.to_httpx_request(**kwargs)
        assert isinstance(request, httpx.Request)  # noqa: S101 - only our transport and httpcore are patched
        return request

    @classmethod
    def from_sync_httpx_response(cls, httpx_response: httpx.Response, target: Any, **kwargs: Any) -> Any:
        """The mocked answer in the form the patched transport returns."""
        if isinstance(kwargs.get("request"), httpcore.Request):
            return HTTPCoreMocker.from_sync_httpx_response(httpx_response, target, **kwargs)
        return httpx.Response(
            httpx_response.status_code,
            headers=httpx_response.headers.raw,
            stream=httpx_response.stream,
            extensions=httpx_response.extensions,
            request=kwargs["request"],
        )

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> Any:
        """The mocked answer in the form the patched transport returns."""
        return cls.from_sync_httpx_response(httpx_response, target, **kwargs)
