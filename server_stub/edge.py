"""The HTTP edge, wrapped around the whole application as plain ASGI.

In order: refuse oversized bodies (413) before reading them whole, refuse non-JSON bodies
(415), verify the device's RFC 9421 signature on every /v1 route except the public three,
then hand the buffered body to FastAPI. On the way out, every response — errors and
crashes included — is signed with the platform key, logged without personal data, and,
if it rejected the request, recorded in the audit chain.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from kiosk.protocol.errors import ErrorCode, ProtocolError
from kiosk.protocol.signing import HeaderList, WireRequest, WireResponse, sign_response
from server_stub.directory import Device
from server_stub.metrics import route_template
from server_stub.nonces import PendingNonce
from server_stub.platform import Platform

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/v1/health", "/v1/server-key", "/v1/devices/register"})
log = logging.getLogger("server_stub.http")


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
            # never reached its transaction: the nonce is spent all the same
            nonce, self.nonce = self.nonce, None
            try:
                await self._platform.spend_nonce(nonce)
            except ProtocolError as exc:
                await self.send_error(exc)
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
                                   (b"content-length", str(len(body)).encode())]}
        self.status = error.status
        await self._flush(body)


class Edge:
    def __init__(self, app: ASGIApp, platform: Platform,
                 records_own_nonce: Callable[[str, str], bool]) -> None:
        self.app = app
        self.platform = platform
        self.records_own_nonce = records_own_nonce  # (method, path): the route's transaction

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
                device, verified = self.platform.authenticate(request, body)
                state["nonce"] = sender.nonce = self.platform.pending_nonce(verified)
                if not self.records_own_nonce(scope["method"], scope["path"]):
                    await self.platform.spend_nonce(sender.nonce)
            state["device"], state["body"] = device, body
            await self.app(scope, _replay(body, receive), sender)
        except ProtocolError as exc:
            await sender.send_error(exc)
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"]})
            if not sender.started:
                await sender.send_error(ProtocolError(ErrorCode.INTERNAL, "internal error"))
        finally:
            await self._after(scope, sender, device, started)

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
        if sender.status >= 400 and scope["path"].startswith("/v1/"):
            try:
                await anyio.to_thread.run_sync(lambda: self.platform.record_rejection(
                    method=scope["method"], path=scope["path"], status=sender.status,
                    code=sender.code, device=device))
            except Exception:
                log.exception("could not audit a rejected request")


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
