"""Two equivalent trivial ASGI apps for bench/frameworks.py: validate a small JSON body, answer JSON."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Query(BaseModel):
    citizen_id: str
    region: str


async def lookup(request: Request) -> Response:
    query = Query.model_validate_json(await request.body())
    return Response(query.model_dump_json(), media_type="application/json")


starlette_app = Starlette(routes=[Route("/v1/ops/person.lookup", lookup, methods=["POST"])])


def _fastapi():  # type: ignore[no-untyped-def]
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/ops/person.lookup")
    async def lookup(query: Query) -> Query:
        return query

    return app


try:
    fastapi_app = _fastapi()
except ImportError:  # FastAPI is only needed to compare (pip install fastapi)
    fastapi_app = None
