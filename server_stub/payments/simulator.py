"""A simulated payment provider, run as a process of its own, that behaves like WeChat Pay's
native (QR) payments: the merchant (the platform) opens an order and gets a ``code_url``, the
payer's phone "scans" it (``POST /pay/{pr}``: success or a failed payment), and the provider
tells the merchant asynchronously — a signed notification with an encrypted resource (``v3``)
posted to the order's ``notify_url`` and posted again, with backoff, until it is answered
2xx. Query, close (refused once paid) and refund as in v3.

    python -m server_stub.payments.simulator --dir var/payments --port 8700

``--dir`` holds its key and certificate, the APIv3 key and the merchant token (made on first
run, secrets 0600): point the platform's ``[payments]`` files at them. ``POST /sim/faults``
changes how notifications go out (held back, sent twice), for tests and demos.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import requests
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from server_stub.payments.v3 import ProviderSigner, encrypt_resource, make_provider_identity

log = logging.getLogger("payments.simulator")
RETRY_S = (1, 2, 4, 8, 15, 30, 60)  # WeChat Pay: 15 s, 15 s, 30 s, 3 min, ... scaled down
Auth = Annotated[str | None, Header()]  # the merchant's bearer token


@dataclass
class Order:
    mchid: str
    out_trade_no: str
    description: str
    notify_url: str
    total: int
    expires_ms: int
    pr: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    refunded: int = 0

    def transaction(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mchid": self.mchid, "out_trade_no": self.out_trade_no, "trade_type": "NATIVE",
            "trade_state": self.state, "amount": {"total": self.total, "currency": "CNY",
                                                  "payer_total": self.total}}
        if self.transaction_id:
            data.update(transaction_id=self.transaction_id, success_time=self.success_time)
        return data


@dataclass
class Faults:
    hold: bool = False  # keep notifications back (a lost callback): only query tells
    copies: int = 1  # send each notification this many times (duplicates)


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, {"code": code, "message": message})


class Simulator:
    def __init__(self, directory: Path, public_base: str) -> None:
        self.signer: ProviderSigner = make_provider_identity(directory)
        self.api_v3_key = (directory / "apiv3.key").read_bytes().strip()
        self.token = (directory / "merchant.token").read_text(encoding="ascii").strip()
        self.public_base = public_base.rstrip("/")
        self.orders: dict[str, Order] = {}
        self.by_pr: dict[str, Order] = {}
        self.faults = Faults()
        self.lock = threading.Lock()
        self.outbox: queue.Queue[tuple[str, bytes, int]] = queue.Queue()
        self.held: list[tuple[str, bytes, int]] = []
        self.delivered = 0
        self.http = requests.Session()
        threading.Thread(target=self._deliver_loop, daemon=True, name="notify").start()

    # -------------------------------------------------------------- merchant API
    def authorise(self, authorization: str | None) -> None:
        if authorization != f"Bearer {self.token}":
            raise _error(401, "SIGN_ERROR", "merchant authentication failed")

    def order(self, out_trade_no: str) -> Order:
        found = self.orders.get(out_trade_no)
        if found is None:
            raise _error(404, "ORDER_NOT_EXIST", "no such order")
        if found.state == "NOTPAY" and time.time() * 1000 > found.expires_ms:
            found.state = "CLOSED"
        return found

    def create(self, body: dict[str, Any]) -> dict[str, str]:
        try:
            total = int(body["amount"]["total"])
            expires = dt.datetime.fromisoformat(body["time_expire"])
            made = Order(str(body["mchid"]), str(body["out_trade_no"]),
                         str(body["description"]), str(body["notify_url"]), total,
                         int(expires.timestamp() * 1000))
        except (KeyError, TypeError, ValueError) as exc:
            raise _error(400, "PARAM_ERROR", str(exc)) from exc
        if total <= 0:
            raise _error(400, "PARAM_ERROR", "amount.total must be positive")
        with self.lock:
            known = self.orders.get(made.out_trade_no)
            if known is not None:  # the same order again: the same code_url
                if (known.total, known.mchid) != (made.total, made.mchid):
                    raise _error(400, "INVALID_REQUEST", "out_trade_no used for another order")
                return {"code_url": self.code_url(known)}
            self.orders[made.out_trade_no] = made
            self.by_pr[made.pr] = made
        return {"code_url": self.code_url(made)}

    def code_url(self, order: Order) -> str:
        return f"{self.public_base}/pay/{order.pr}"

    def close(self, out_trade_no: str) -> None:
        with self.lock:
            order = self.order(out_trade_no)
            if order.state in ("SUCCESS", "REFUND"):
                raise _error(400, "ORDER_PAID", "the order is paid")
            order.state = "CLOSED"

    def refund(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order = self.order(str(body.get("out_trade_no", "")))
            amount = int(body["amount"]["refund"])
            if order.state not in ("SUCCESS", "REFUND"):
                raise _error(400, "INVALID_REQUEST", "the order is not paid")
            if amount <= 0 or order.refunded + amount > order.total:
                raise _error(400, "NOT_ENOUGH", "refund larger than what was paid")
            order.refunded += amount
            order.state = "REFUND"
        return {"refund_id": f"50{secrets.randbelow(10**16):016d}",
                "out_refund_no": body.get("out_refund_no"), "status": "SUCCESS",
                "amount": {"refund": amount, "total": order.total, "currency": "CNY"}}

    # ------------------------------------------------------------ the payer
    def pay(self, pr: str, outcome: str) -> dict[str, Any]:
        with self.lock:
            order = self.by_pr.get(pr)
            if order is None:
                raise _error(404, "ORDER_NOT_EXIST", "no such order")
            order = self.order(order.out_trade_no)
            if order.state not in ("NOTPAY", "PAYERROR"):
                raise _error(400, "ORDER_" + order.state, f"the order is {order.state}")
            if outcome != "success":
                order.state = "PAYERROR"
                return order.transaction()
            order.state = "SUCCESS"
            order.transaction_id = f"42{secrets.randbelow(10**26):026d}"
            order.success_time = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            note = self.notification(order)
            for _ in range(self.faults.copies):
                if self.faults.hold:
                    self.held.append(note)
                else:
                    self.outbox.put(note)
            return order.transaction()

    def notification(self, order: Order) -> tuple[str, bytes, int]:
        body = json.dumps({
            "id": f"EV-{secrets.token_hex(10)}", "create_time": order.success_time,
            "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
            "summary": "支付成功",
            "resource": encrypt_resource(self.api_v3_key, order.transaction())},
            ensure_ascii=False).encode()
        return order.notify_url, body, 0

    def release(self) -> int:
        with self.lock:
            held, self.held = self.held, []
        for note in held:
            self.outbox.put(note)
        return len(held)

    # ----------------------------------------------------------- notifications
    def _deliver_loop(self) -> None:
        while True:
            url, body, attempt = self.outbox.get()
            headers = {"Content-Type": "application/json",
                       **self.signer.headers(body, int(time.time()))}
            try:
                ok = self.http.post(url, data=body, headers=headers, timeout=5).ok
            except requests.RequestException:
                ok = False
            if ok:
                self.delivered += 1
            elif attempt < len(RETRY_S):
                threading.Timer(RETRY_S[attempt], self.outbox.put,
                                ((url, body, attempt + 1),)).start()
            log.info("notification", extra={"ok": ok, "attempt": attempt})


def build_app(sim: Simulator) -> FastAPI:
    app = FastAPI(title="simulated payment provider (WeChat Pay v3 shape)")

    @app.exception_handler(HTTPException)
    async def _error_body(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(exc.detail, status_code=exc.status_code)

    @app.post("/v3/pay/transactions/native")
    async def create(request: Request, authorization: Auth = None) -> dict[str, str]:
        sim.authorise(authorization)
        return sim.create(await request.json())

    @app.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
    def query(out_trade_no: str, authorization: Auth = None) -> dict[str, Any]:
        sim.authorise(authorization)
        with sim.lock:
            return sim.order(out_trade_no).transaction()

    @app.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", status_code=204)
    def close(out_trade_no: str, authorization: Auth = None) -> Response:
        sim.authorise(authorization)
        sim.close(out_trade_no)
        return Response(status_code=204)

    @app.post("/v3/refund/domestic/refunds")
    async def refund(request: Request, authorization: Auth = None) -> dict[str, Any]:
        sim.authorise(authorization)
        return sim.refund(await request.json())

    @app.get("/pay/{pr}")
    def show(pr: str) -> dict[str, Any]:
        """What the payer's phone shows after scanning: amount and description."""
        with sim.lock:
            order = sim.by_pr.get(pr)
            if order is None:
                raise _error(404, "ORDER_NOT_EXIST", "no such order")
            order = sim.order(order.out_trade_no)
            return {"description": order.description, "total": order.total,
                    "state": order.state}

    @app.post("/pay/{pr}")
    async def pay(pr: str, request: Request) -> dict[str, Any]:
        body = await request.json() if await request.body() else {}
        return sim.pay(pr, str(body.get("outcome", "success")))

    @app.post("/sim/faults")
    async def faults(request: Request) -> dict[str, Any]:
        body = await request.json()
        sim.faults = Faults(hold=bool(body.get("hold", False)),
                            copies=int(body.get("copies", 1)))
        released = 0 if sim.faults.hold else sim.release()
        return {"hold": sim.faults.hold, "copies": sim.faults.copies, "released": released}

    @app.get("/sim/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "orders": len(sim.orders), "delivered": sim.delivered}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("var/payments"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--public-base", default="",
                        help="the base of the code_url the payer's phone opens")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sim = Simulator(args.dir, args.public_base or f"http://{args.host}:{args.port}")
    uvicorn.run(build_app(sim), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
