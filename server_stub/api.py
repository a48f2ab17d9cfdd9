"""The /v1 HTTP API (FastAPI): the app's assembly — error handlers, the OpenAPI schema, the
routers of ``server_stub.routes`` (one per resource) and the signing edge around it all.

Authentication happens before any route runs (``server_stub.edge``); a route only checks
the device's role. Handlers are plain functions, so FastAPI runs them in its worker threads
and a slow fsync never blocks the event loop; the money routes await the group commit on the
loop itself (``Database.run``), which holds no thread while the batch is on its way to disk.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import __version__, scheduler
from server_stub.edge import PUBLIC_PATHS, Edge, NonceHome, error_for, error_headers
from server_stub.routes import ROUTERS
from server_stub.state import Platform

# every status the platform's error answers carry: the registry's, less the client's own codes
ERROR_STATUSES = sorted({code.status or 500
                         for code in set(ErrorCode.wire()) - ErrorCode.families("client")})
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorBody, "description": "error; see docs/protocol.md"}
    for status in ERROR_STATUSES}


# the router's own refusals (no route, wrong method...) as the registry's request codes
_HTTP_CODES = {code.status: code for code in (
    ErrorCode.ROUTE_NOT_FOUND, ErrorCode.METHOD_NOT_ALLOWED, ErrorCode.MALFORMED_JSON,
    ErrorCode.BODY_TOO_LARGE, ErrorCode.UNSUPPORTED_MEDIA_TYPE)}


def _error(error: ProtocolError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status, headers=error_headers(error))


# The money routes (they call run_once) record the request's nonce inside their own
# transaction, saving a group commit per settlement; the edge records every other
# route's nonce before the route runs: a read-only route's in the nonce store, off the
# money writer (server_stub/nonces.py), any other route's in the main database.
_RECORDS_OWN_NONCE = re.compile(
    r"^/v1/(?:settlements|repayments|repay-orders|settlements/[^/]+/reverse)$")
_READ_ONLY_POSTS = re.compile(
    r"^/v1/(?:quotes|identify/face|identify/card|identify/voucher|second-factor/narrow)$")


def nonce_home(method: str, path: str) -> NonceHome:
    if method == "POST" and _RECORDS_OWN_NONCE.match(path) is not None:
        return NonceHome.ROUTE
    if method in ("GET", "HEAD") or (method == "POST" and _READ_ONLY_POSTS.match(path)):
        return NonceHome.READ
    return NonceHome.WRITE


def build_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="Face-pay credit medical platform (server_stub)", version=__version__,
                  description="Signed, idempotent API for checkout kiosks and cashier "
                              "consoles. The wire contract is docs/protocol.md.",
                  responses=ERROR_RESPONSES,
                  lifespan=scheduler.lifespan_for(platform.db, platform.config))
    app.state.identifications = platform.identifications

    @app.exception_handler(ProtocolError)
    async def _protocol_error(_: Request, exc: ProtocolError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error(ProtocolError(ErrorCode.MALFORMED_JSON, "body is not valid JSON"))
        # never echo the input: it may hold personal data
        fields = [{"loc": [str(x) for x in p.get("loc", ())], "msg": p.get("msg", ""),
                   "type": p.get("type", "")} for p in problems[:20]]
        return _error(ProtocolError(ErrorCode.INVALID_REQUEST, "request failed validation",
                                    fields=fields))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        return _error(ProtocolError(code, str(exc.detail)))  # the registry's status

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        return _error(error_for(exc))  # a storage failure is 503 server.storage

    for router in ROUTERS:
        app.include_router(router(platform))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the signature scheme every non-public /v1 route requires."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    schema.setdefault("components", {})["securitySchemes"] = {"httpMessageSignature": {
        "type": "apiKey", "in": "header", "name": "Signature",
        "description": "RFC 9421 signature (Ed25519, or SM2 under the gm crypto profile) with "
                       "Signature-Input and Content-Digest (RFC 9530); profile in "
                       "docs/protocol.md"}}
    for path, operations in schema["paths"].items():
        if path not in PUBLIC_PATHS:
            for operation in operations.values():
                operation["security"] = [{"httpMessageSignature": []}]
    app.openapi_schema = schema
    return schema


def create_asgi_app(platform: Platform) -> Edge:
    return Edge(build_app(platform), platform, nonce_home)


def app_from_environment() -> Edge:
    """Each worker process's app (``[server] workers`` > 1): the config named by
    $KIOSK_SERVER_CONFIG, a platform of its own over the shared database."""
    from common.logs import setup_logging
    from server_stub.config import load_config

    config = load_config()
    setup_logging(config.server.log_level, config.server.log_dir, "server")
    return create_asgi_app(Platform(config))
