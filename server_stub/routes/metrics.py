"""GET /metrics: the Prometheus exposition, behind the metrics token (server_stub/metrics.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    routes = APIRouter()

    @routes.get("/metrics", include_in_schema=False)
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        return Response(platform.metrics.exposition(authorization),
                        media_type=CONTENT_TYPE_LATEST)

    return routes
