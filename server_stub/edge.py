"""The HTTP edge, wrapped around the whole application as plain ASGI.

In order: refuse oversized bodies (413) before reading them whole, refuse non-JSON bodies
(415), verify the device's RFC 9421 signature on every /v1 route except the public three,
then hand the buffered body to FastAPI. On the way out, every response — errors and
crashes included — is signed with the platform key, logged without personal data, and,
if it rejected the request, recorded in the audit chain.

"Every response is signed" has to hold when storage fails too: under a full disk the nonce
of a failed request could not be spent, the retry inside the error path raised again, and
uvicorn answered its own unsigned plain 500, which a device must treat as a forgery. Now a
failure to write anywhere is answered as a signed ``503 server.storage`` with
``Retry-After`` (``storage_fault``), any other failure as a signed ``500 server.internal``,
and nothing raised while answering escapes unsigned.
"""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping
from enum import Enum
from typing import Any

import anyio

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.signing import HeaderList, WireRequest, WireResponse, sign_response
from server_stub import engines
from server_stub.metrics import route_template
from server_stub.nonces import PendingNonce
from server_stub.records.devices import Device
from server_stub.state import Platform

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# the payment provider's notification is verified by the provider's own signature
# (server_stub/repayment_orders.py), not a device's
PUBLIC_PATHS = frozenset({"/v1/health", "/v1/server-key", "/v1/devices/register",
                          "/v1/payments/notify"})
log = logging.getLogger("server_stub.http")
RETRY_AFTER_S = 5
# SQLite primary result codes that mean "cannot write now": BUSY, LOCKED, IOERR, FULL, CANTOPEN
_SQLITE_STORAGE = {5, 6, 10, 13, 14}
_OS_STORAGE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS}
# refusals of a device that is hammering the platform: one audit record each would put the
# flood on the money writer; the lockout itself is audited once (device.locked), and the
# rejected-requests metric counts every one
_UNAUDITED = frozenset({ErrorCode.RATE_LIMITED.value, ErrorCode.DEVICE_LOCKED.value})


class NonceHome(Enum):
    """Where a signed request's nonce is recorded (server_stub/nonces.py)."""

    ROUTE = "route"  # a money route: inside its own transaction
    READ = "read"  # a read-only route: the nonce store, off the main writer
    WRITE = "write"  # any other route: the main database, before the route runs


def storage_fault(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is the storage refusing a write: a full disk,
    a file-size limit, an I/O error, a database locked past its busy timeout; PostgreSQL
    with no primary reachable (a failover under way) or refusing writes."""
    if engines.pg_unavailable(exc):
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.Error) and \
                (getattr(seen, "sqlite_errorcode", -1) & 0xFF) in _SQLITE_STORAGE:
            return True
        if isinstance(seen, OSError) and seen.errno in _OS_STORAGE:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def error_for(exc: BaseException) -> ProtocolError:
    """The wire error for an unexpected exception."""
    if isinstance(exc, ProtocolError):
        return exc
    if storage_fault(exc):
        return ProtocolError(ErrorCode.STORAGE_UNAVAILABLE, "the platform cannot write to its "
                             "storage right now; retry later", retry_after_s=RETRY_AFTER_S)
    return ProtocolError(ErrorCode.INTERNAL, "internal error")


def error_headers(error: ProtocolError) -> dict[str, str]:
    """``Retry-After`` on every answer that says when to try again."""
    wait = error.details.get("retry_after_s")
    return {"Retry-After": str(wait)} if isinstance(wait, int) else {}


def needs_signature(path: str) -> bool:
    return path.startswith("/v1/") and path not in PUBLIC_PATHS


def _url(scope: Scope, headers: list[tuple[str, str]]) -> str:
    host = next((v for k, v in headers if k == "host"), "") or "localhost"
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    return f"{scope.get('scheme', 'http')}://{host}{target}"


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProtocolError(ErrorCode.BODY_TOO_LARGE, f"body larger than {limit} bytes",
                            max_bytes=limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ProtocolError(ErrorCode.BODY_TOO_LARGE, f"body larger than {limit} bytes",
                                max_bytes=limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class _SigningSender:
    """Buffers one response, signs it, then sends it."""

    def __init__(self, send: Send, platform: Platform, request: WireRequest) -> None:
        self._send = send
        self._platform = platform
        self._request = request
        self.nonce: PendingNonce | None = None  # recorded before anything is sent
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self.status = 0
        self.started = False
        self.code = ""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            self.status = message["status"]
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        await self._flush(b"".join(self._chunks))

    async def _flush(self, body: bytes) -> None:
        assert self._start is not None
        if self.nonce is not None and not self.nonce.spent:
            # a money route that failed (its transaction, nonce included, rolled back) or
            # never reached its transaction: the nonce is spent all the same (once: if that
            # fails too, the failure is the answer)
            nonce, self.nonce = self.nonce, None
            try:
                await self._platform.spend_nonce(nonce)
            except Exception as exc:
                if not isinstance(exc, ProtocolError):
                    log.error("could not spend the nonce of a failed request",
                              extra={"error": f"{type(exc).__name__}: {exc}"})
                await self.send_error(error_for(exc))
                return
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._start["headers"]]
        headers = {k: v for k, v in raw}
        response = WireResponse(self.status, dict(headers), self._request)
        identity = self._platform.identity
        sign_response(response, key_id=identity.key_id, private_key=identity.private_key,
                      body=body)
        added = [(k, v) for k, v in response.headers.items() if k not in headers]
        if self.status >= 400 and body.startswith(b'{"error"'):
            self.code = json.loads(body)["error"]["code"]
        self.started = True
        await self._send({**self._start, "headers": [
            *self._start["headers"], *((k.lower().encode(), v.encode()) for k, v in added)]})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def send_error(self, error: ProtocolError) -> None:
        body = json.dumps(error.to_body(), ensure_ascii=False).encode()
        self._start = {"type": "http.response.start", "status": error.status,
                       "headers": [(b"content-type", b"application/json"),
                                   (b"content-length", str(len(body)).encode()),
                                   *((k.lower().encode(), v.encode())
                                     for k, v in error_headers(error).items())]}
        self.status = error.status
        await self._flush(body)


class Edge:
    def __init__(self, app: ASGIApp, platform: Platform,
                 nonce_home: Callable[[str, str], NonceHome]) -> None:
        self.app = app
        self.platform = platform
        self.nonce_home = nonce_home  # (method, path) -> where the request's nonce goes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1"))
                   for k, v in scope["headers"]]
        request = WireRequest(scope["method"], _url(scope, headers), HeaderList(headers))
        sender = _SigningSender(send, self.platform, request)
        device: Device | None = None
        try:
            body = await _read_body(scope, receive, self.platform.config.server.max_body_bytes)
            content_type = next((v for k, v in headers if k == "content-type"), "")
            if body and not _is_json(content_type):
                raise ProtocolError(ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                                    "request bodies must be application/json")
            state = scope.setdefault("state", {})
            if needs_signature(scope["path"]):
                device, verified = await self.platform.authenticate(request, body)
                state["nonce"] = nonce = self.platform.pending_nonce(verified)
                home = self.nonce_home(scope["method"], scope["path"])
                if home is NonceHome.ROUTE:
                    sender.nonce = nonce  # spent by the error path if the route fails
                else:
                    await self.platform.spend_nonce(nonce, read_only=home is NonceHome.READ)
            state["device"], state["body"] = device, body
            await self.app(scope, _replay(body, receive), sender)
        except ProtocolError as exc:
            await self._answer(sender, exc)
        except Exception as exc:
            if storage_fault(exc):
                log.error("storage failure", extra={"path": scope["path"],
                                                    "error": f"{type(exc).__name__}: {exc}"})
            else:
                log.exception("unhandled error", extra={"path": scope["path"]})
            await self._answer(sender, error_for(exc))
        finally:
            await self._after(scope, sender, device, started)

    @staticmethod
    async def _answer(sender: _SigningSender, error: ProtocolError) -> None:
        """A signed error, unless a response already went out. Sending it can only fail on
        the error path's own storage write, which is then the answer."""
        if sender.started:
            return
        try:
            await sender.send_error(error)
        except Exception as exc:
            if not sender.started:
                await sender.send_error(error_for(exc))

    async def _after(self, scope: Scope, sender: _SigningSender, device: Device | None,
                     started: float) -> None:
        seconds = time.perf_counter() - started
        log.info("request", extra={
            "method": scope["method"], "path": scope["path"], "status": sender.status,
            "code": sender.code, "device_id": device.device_id if device else None,
            "ms": round(seconds * 1000, 2)})
        self.platform.metrics.observe(
            route=route_template(scope, getattr(self.app, "routes", ())),
            method=scope["method"], seconds=seconds, status=sender.status, code=sender.code)
        if sender.status >= 400 and scope["path"].startswith("/v1/") and \
                sender.code not in _UNAUDITED:
            try:
                await anyio.to_thread.run_sync(lambda: self.platform.record_rejection(
                    method=scope["method"], path=scope["path"], status=sender.status,
                    code=sender.code, device=device))
            except Exception as exc:
                if not storage_fault(exc):
                    log.exception("could not audit a rejected request")
                else:
                    log.error("could not audit a rejected request",
                              extra={"error": f"{type(exc).__name__}: {exc}"})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the real channel (which reports a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
