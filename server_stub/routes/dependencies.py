"""What the routes share: the permission dependency and the path and header types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Connection

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.signing import IDEMPOTENCY_HEADER
from server_stub import identification
from server_stub.idempotency import request_fingerprint, run_once
from server_stub.permissions import Grant
from server_stub.records.devices import Device
from server_stub.state import Platform

PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
IdempotencyKey = Annotated[str | None, Header(
    alias=IDEMPOTENCY_HEADER, description="required: 1-255 visible ASCII characters")]


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


def fingerprint(request: Request) -> str:
    """The request's idempotency fingerprint (the edge kept its body)."""
    return request_fingerprint(request.method, request.url.path, request.url.query,
                               request.state.body)


async def once(platform: Platform, request: Request, dev: Device, key: str | None,
               status_code: int, operation: Callable[[Connection, int], BaseModel]) -> Response:
    """A money route's operation, run at most once per Idempotency-Key with the request's
    nonce in its transaction; its audit head goes to the anchor file once durable."""
    return await run_once(platform.db, platform.inflight, device_id=dev.device_id, key=key,
                          fingerprint=fingerprint(request), status_code=status_code,
                          nonce=request.state.nonce, operation=operation,
                          committed=platform.anchor)
