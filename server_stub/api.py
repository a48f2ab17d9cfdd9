"""The /v1 HTTP API (FastAPI). Routes are thin: a transaction around a service call.

Authentication happens before any route runs (``server_stub.edge``); a route only checks
the device's role. Handlers are plain functions, so FastAPI runs them in its worker threads
and a slow fsync never blocks the event loop; the money routes await the group commit on the
loop itself (``Database.run``), which holds no thread while the batch is on its way to disk.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import Connection
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk.protocol import schemas
from kiosk.protocol.errors import ErrorCode, ProtocolError
from kiosk.protocol.signing import IDEMPOTENCY_HEADER
from server_stub import (
    __version__,
    directory,
    gallery,
    handoffs,
    heartbeats,
    identification,
    identify,
    ledger,
    recon,
    reconcile,
    scheduler,
    tls,
)
from server_stub.clock import local_day, now_ms
from server_stub.directory import Device
from server_stub.edge import PUBLIC_PATHS, Edge, NonceHome, error_for, error_headers
from server_stub.idempotency import request_fingerprint, run_once
from server_stub.permissions import Grant
from server_stub.platform import Platform

ERROR_STATUSES = (400, 401, 402, 403, 404, 409, 410, 413, 415, 422, 423, 500, 503)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorBody, "description": "error; see docs/protocol.md"}
    for status in ERROR_STATUSES}
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
IdempotencyKey = Annotated[str | None, Header(
    alias=IDEMPOTENCY_HEADER, description="required: 1-255 visible ASCII characters")]


def _error(error: ProtocolError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status, headers=error_headers(error))


async def grant(request: Request) -> Grant:  # async: no worker-thread hop to read state
    """The device, admitted by its route's row of the permission matrix (permissions.py)."""
    found = getattr(request.state, "device", None)
    if found is None:
        raise ProtocolError(ErrorCode.SIGNATURE_MISSING, "this route needs a signed request")
    route = request.scope.get("route")
    return Grant.admit(found, request.method, getattr(route, "path", ""),
                       request.app.state.identifications,
                       request.query_params.get(identification.QUERY_PARAMETER))


Granted = Annotated[Grant, Depends(grant)]


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


def _fingerprint(request: Request) -> str:
    return request_fingerprint(request.method, request.url.path, request.url.query,
                               request.state.body)


def build_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="Face-pay credit medical platform (server_stub)", version=__version__,
                  description="Signed, idempotent API for checkout kiosks and cashier "
                              "consoles. The wire contract is docs/protocol.md.",
                  responses=ERROR_RESPONSES,
                  lifespan=scheduler.lifespan_for(platform.db, platform.config))
    db, config = platform.db, platform.config
    scope = config.gallery.scope
    app.state.identifications = platform.identifications
    # signed with the key devices pin: binds the TLS certificate to the platform's identity
    server_identity = platform.identity.describe().model_copy(
        update={"tls_fingerprint": tls.configured_fingerprint(config.server)})

    def identified(access: Grant, view: schemas.PatientView) -> schemas.IdentifiedPatient:
        return platform.identifications.identify(access.device.device_id, view, now_ms())

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
        code = {404: ErrorCode.ROUTE_NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
            exc.status_code, ErrorCode.INVALID_REQUEST)
        return JSONResponse(ProtocolError(code, str(exc.detail)).to_body(),
                            status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        return _error(error_for(exc))  # a storage failure is 503 server.storage

    # --- public ---------------------------------------------------------------------

    @app.get("/v1/health", response_model=schemas.Health, tags=["public"])
    def health() -> schemas.Health:
        return schemas.Health(status="ok", version=__version__, time=dt.datetime.now(dt.UTC),
                              skew_window_s=config.security.skew_seconds,
                              timezone=config.server.timezone)

    @app.get("/v1/server-key", response_model=schemas.ServerKey, tags=["public"])
    def server_key() -> schemas.ServerKey:
        return server_identity

    @app.post("/v1/devices/register", response_model=schemas.RegisterDeviceResponse,
              status_code=201, tags=["public"])
    def register(body: schemas.RegisterDeviceRequest) -> schemas.RegisterDeviceResponse:
        def register_in(conn: Connection) -> tuple[str, Any, schemas.Role]:
            device_id, site = directory.register_device(conn, body, now_ms(), platform.profile)
            return device_id, site, directory.active_device(conn, device_id).role

        device_id, site, role = db.transact(register_in)
        return schemas.RegisterDeviceResponse(device_id=device_id, site_id=site.site_id,
                                              site_name=site.name, role=role,
                                              server_key=server_identity)

    @app.get("/metrics", include_in_schema=False)
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        return Response(platform.metrics.exposition(authorization),
                        media_type=CONTENT_TYPE_LATEST)

    # --- fleet health -----------------------------------------------------------------

    @app.post("/v1/heartbeat", response_model=schemas.HeartbeatResponse, tags=["fleet"])
    def heartbeat(access: Granted, body: schemas.HeartbeatRequest) -> schemas.HeartbeatResponse:
        dev = access.device
        return db.transact(lambda conn: heartbeats.record(conn, device=dev, req=body,
                                                          now=now_ms(),
                                                          security=config.security))

    # --- gallery and identification ---------------------------------------------------

    @app.get("/v1/gallery", response_model=schemas.GallerySync, tags=["gallery"])
    def gallery_sync(access: Granted,
                     pack: Annotated[str, Query(min_length=1, max_length=64)],
                     cursor: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int | None, Query(ge=1, le=5000)] = None,
                     ) -> schemas.GallerySync:
        dev = access.device
        with db.read() as conn:
            return gallery.sync(conn, site_id=dev.site_id, pack=pack, cursor=cursor,
                                limit=min(limit or config.gallery.page_size,
                                          config.gallery.page_size),
                                scope=scope, sealer=platform.sealer)

    @app.post("/v1/identify/face", response_model=schemas.IdentifiedPatient,
              tags=["identify"])
    def identify_face(access: Granted,
                      body: schemas.FaceIdentifyRequest) -> schemas.IdentifiedPatient:
        with db.read() as conn:
            access.patient(conn, body.patient_id)
            if not gallery.in_site_gallery(conn, site_id=access.device.site_id,
                                           pack=body.pack, patient_id=body.patient_id):
                raise ProtocolError(ErrorCode.PATIENT_NOT_FOUND,
                                    "no credit user with this patient id")
            view = directory.patient_view(conn, directory.user_row(conn, body.patient_id))
        return identified(access, view)

    @app.post("/v1/identify/card", response_model=schemas.IdentifiedPatient,
              tags=["identify"])
    def identify_card(access: Granted,
                      body: schemas.CardLookupRequest) -> schemas.IdentifiedPatient:
        with db.read() as conn:
            user = directory.user_by_card(conn, body.card_no)
            access.patient(conn, user.patient_id)
            view = directory.patient_view(conn, user)
        return identified(access, view)

    @app.post("/v1/identify/voucher", response_model=schemas.IdentifiedPatient,
              tags=["identify"])
    def identify_voucher(access: Granted,
                         body: schemas.VoucherLookupRequest) -> schemas.IdentifiedPatient:
        with db.read() as conn:
            user = directory.resolve_voucher(conn, body.payload, now_ms())
            access.patient(conn, user.patient_id)
            view = directory.patient_view(conn, user)
        return identified(access, view)

    @app.post("/v1/second-factor/verify", response_model=schemas.SecondFactorVerifyResponse,
              tags=["identify"])
    def second_factor(access: Granted, body: schemas.SecondFactorVerifyRequest
                      ) -> schemas.SecondFactorVerifyResponse:
        def verify(conn: Connection) -> schemas.SecondFactorVerifyResponse:
            access.patient(conn, body.patient_id)
            return identify.verify_second_factor(conn, device=access.device, req=body,
                                                 config=config, now=now_ms())

        return db.transact(verify)

    @app.post("/v1/second-factor/narrow", response_model=schemas.NarrowResponse,
              tags=["identify"])
    def narrow(access: Granted, body: schemas.NarrowRequest) -> schemas.NarrowResponse:
        dev = access.device
        with db.read() as conn:
            return schemas.NarrowResponse(patient_ids=identify.narrow(conn, device=dev,
                                                                      req=body))

    # --- cashier hand-offs -------------------------------------------------------------

    @app.post("/v1/handoffs", response_model=schemas.Handoff, status_code=201,
              tags=["handoffs"], responses={200: {
                  "model": schemas.Handoff,
                  "description": "this device already handed this session over: that "
                                 "hand-off, unchanged"}})
    def open_handoff(response: Response, access: Granted,
                     body: schemas.HandoffRequest) -> schemas.Handoff:
        dev = access.device
        handoff, created = db.transact(lambda conn: handoffs.open_handoff(
            conn, device=dev, req=body, now=now_ms(),
            merge_window_s=platform.config.handoffs.merge_window_s))
        if not created:
            response.status_code = 200
        return handoff

    @app.get("/v1/handoffs", response_model=schemas.HandoffList, tags=["handoffs"])
    def handoffs_of_day(access: Granted,
                        open_only: Annotated[bool, Query(
                            alias="open", description="only those not yet taken")] = True,
                        date: Annotated[dt.date | None, Query()] = None
                        ) -> schemas.HandoffList:
        dev = access.device
        day = date or local_day(now_ms(), config.server.timezone)
        with db.read() as conn:
            return handoffs.handoffs_on(conn, site_id=dev.site_id, day=day,
                                        timezone=config.server.timezone, open_only=open_only)

    @app.post("/v1/handoffs/{handoff_id}/take", response_model=schemas.Handoff,
              tags=["handoffs"])
    def take_handoff(access: Granted, handoff_id: PathId) -> schemas.Handoff:
        dev = access.device
        return db.transact(lambda conn: handoffs.take(conn, device=dev, handoff_id=handoff_id,
                                                      now=now_ms()))

    def close_handoff(access: Grant, handoff_id: str, state: schemas.HandoffState,
                      outcome: str, settlement_id: str | None = None) -> schemas.Handoff:
        return db.transact(lambda conn: handoffs.close(
            conn, device=access.device, handoff_id=handoff_id, state=state, outcome=outcome,
            settlement_id=settlement_id, now=now_ms()))

    @app.post("/v1/handoffs/{handoff_id}/resolve", response_model=schemas.Handoff,
              tags=["handoffs"])
    def resolve_handoff(access: Granted, handoff_id: PathId,
                        body: schemas.HandoffResolveRequest) -> schemas.Handoff:
        return close_handoff(access, handoff_id, schemas.HandoffState.RESOLVED,
                             body.outcome.value, body.settlement_id)

    @app.post("/v1/handoffs/{handoff_id}/dismiss", response_model=schemas.Handoff,
              tags=["handoffs"])
    def dismiss_handoff(access: Granted, handoff_id: PathId,
                        body: schemas.HandoffDismissRequest) -> schemas.Handoff:
        return close_handoff(access, handoff_id, schemas.HandoffState.DISMISSED,
                             body.reason.value)

    # --- patients ---------------------------------------------------------------------

    @app.get("/v1/patients/{patient_id}", response_model=schemas.PatientView,
             tags=["patients"])
    def patient(access: Granted, patient_id: PathId) -> schemas.PatientView:
        def view(conn: Connection) -> schemas.PatientView:
            user = directory.user_row(conn, patient_id)
            access.patient(conn, patient_id)
            return directory.patient_view(conn, user)

        return access.look_up(db, view)

    @app.get("/v1/patients/{patient_id}/bills", response_model=schemas.PendingBills,
             tags=["patients"])
    def bills(access: Granted, patient_id: PathId) -> schemas.PendingBills:
        def pending(conn: Connection) -> schemas.PendingBills:
            access.patient(conn, patient_id)
            directory.user_row(conn, patient_id)
            return directory.pending_bills(conn, site_id=access.device.site_id,
                                           patient_id=patient_id)

        return access.look_up(db, pending)

    @app.post("/v1/patients/{patient_id}/templates", status_code=201,
              response_model=schemas.EnrolTemplateResponse, tags=["patients"])
    def enrol_template(access: Granted, patient_id: PathId,
                       body: schemas.EnrolTemplateRequest) -> schemas.EnrolTemplateResponse:
        def enrol(conn: Connection) -> schemas.EnrolTemplateResponse:
            access.patient(conn, patient_id)
            return gallery.enrol_template(conn, device=access.device, patient_id=patient_id,
                                          req=body, sealer=platform.sealer, scope=scope,
                                          now=now_ms())

        return db.transact(enrol)

    @app.post("/v1/patients/{patient_id}/consent/withdraw",
              response_model=schemas.WithdrawConsentResponse, tags=["patients"])
    def withdraw(access: Granted, patient_id: PathId,
                 body: schemas.WithdrawConsentRequest) -> schemas.WithdrawConsentResponse:
        def withdraw_in(conn: Connection) -> schemas.WithdrawConsentResponse:
            access.patient(conn, patient_id)
            return gallery.withdraw_consent(conn, actor=access.device.actor,
                                            patient_id=patient_id, reason=body.reason,
                                            scope=scope, now=now_ms())

        return db.transact(withdraw_in)

    # --- money ------------------------------------------------------------------------

    @app.post("/v1/quotes", response_model=schemas.Quote, tags=["money"])
    def quote(access: Granted, body: schemas.QuoteRequest) -> schemas.Quote:
        dev = access.device
        with db.read() as conn:
            access.identified(conn, body.patient_id)
            return ledger.quote(conn, device=dev, req=body, config=config, now=now_ms())

    async def once(request: Request, dev: Device, key: str | None, status_code: int,
                   operation: Callable[[Connection, int], BaseModel]) -> Response:
        return await run_once(db, platform.inflight, device_id=dev.device_id, key=key,
                              fingerprint=_fingerprint(request), status_code=status_code,
                              nonce=request.state.nonce, operation=operation,
                              committed=platform.anchor)

    @app.post("/v1/settlements", response_model=schemas.Settlement, status_code=201,
              tags=["money"])
    async def settle(request: Request, access: Granted, body: schemas.SettleRequest,
                     idempotency_key: IdempotencyKey = None) -> Response:
        dev = access.device
        return await once(request, dev, idempotency_key, 201, lambda conn, now: ledger.settle(
            conn, device=dev, req=body, config=config, now=now))

    @app.get("/v1/settlements", response_model=schemas.SettlementList, tags=["money"])
    def settlements_of_day(access: Granted,
                           date: Annotated[dt.date | None, Query()] = None
                           ) -> schemas.SettlementList:
        dev = access.device
        day = date or local_day(now_ms(), config.server.timezone)
        with db.read() as conn:
            return ledger.settlements_on(conn, site_id=dev.site_id, day=day, config=config)

    @app.get("/v1/settlements/{settlement_id}", response_model=schemas.Settlement,
             tags=["money"])
    def settlement(access: Granted, settlement_id: PathId) -> schemas.Settlement:
        dev = access.device
        with db.read() as conn:
            return ledger.settlement_view(conn, settlement_id, site_id=dev.site_id,
                                          timezone=config.server.timezone)

    @app.post("/v1/settlements/{settlement_id}/reverse", response_model=schemas.Settlement,
              tags=["money"])
    async def reverse(request: Request, access: Granted, settlement_id: PathId,
                      body: schemas.ReverseRequest, idempotency_key: IdempotencyKey = None
                      ) -> Response:
        dev = access.device
        return await once(request, dev, idempotency_key, 200, lambda conn, now: ledger.reverse(
            conn, device=dev, settlement_id=settlement_id, reason=body.reason, config=config,
            now=now))

    @app.post("/v1/repayments", response_model=schemas.Repayment, status_code=201,
              tags=["money"])
    async def repay(request: Request, access: Granted, body: schemas.RepayRequest,
                    idempotency_key: IdempotencyKey = None) -> Response:
        def repay_in(conn: Connection, now: int) -> schemas.Repayment:
            directory.user_row(conn, body.patient_id)
            access.patient(conn, body.patient_id, reason=body.reason)
            return ledger.repay(conn, actor=access.device.actor, req=body, config=config,
                                now=now)

        return await once(request, access.device, idempotency_key, 201, repay_in)

    @app.post("/v1/reconcile", response_model=schemas.ReconcileResponse, tags=["money"])
    def reconcile_device(access: Granted,
                         body: schemas.ReconcileRequest) -> schemas.ReconcileResponse:
        dev = access.device
        return reconcile.reconcile(db, platform.metrics, device=dev, req=body, config=config)

    @app.get("/v1/reconciliation/{date}", response_model=schemas.Reconciliation,
             tags=["money"], responses={200: {"content": {"text/csv": {
                 "schema": {"type": "string"}}}, "description": "JSON, or CSV with "
                 "?format=csv: one row per line, then total:settled/reversed/net rows"}})
    def reconciliation(access: Granted, date: dt.date,
                       format: Literal["json", "csv"] = "json") -> Any:
        dev = access.device
        with db.read() as conn:
            report = recon.reconcile(conn, site_id=dev.site_id, day=date, config=config)
        if format == "csv":
            return Response(recon.to_csv(report), media_type="text/csv; charset=utf-8")
        return report

    from server_stub import his_routes  # it uses Granted, defined above: imported here

    app.include_router(his_routes.router(platform))
    from server_stub import repayment_orders  # the same: it uses Granted

    app.include_router(repayment_orders.router(platform))
    from server_stub import family  # the same

    app.include_router(family.router(platform))
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
