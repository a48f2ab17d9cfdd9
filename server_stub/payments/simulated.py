"""The platform's client for the simulated provider (``server_stub.payments.simulator``).

It speaks WeChat Pay v3's native (QR) payment API — create, query, close, refund — and
verifies its notifications exactly as a WeChat Pay adapter would (``v3``). What a real
WeChat Pay adapter does differently is only how it authenticates to the API (an RSA
signature with the merchant's key instead of the simulator's bearer token) and where it
gets the provider certificate (downloaded from the provider instead of a shared file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from server_stub.clock import from_datetime, to_datetime
from server_stub.config import PaymentsSection, PlatformConfigError
from server_stub.payments.provider import (
    NotificationRejected,
    Payment,
    ProviderError,
    Refund,
    TradeState,
)
from server_stub.payments.v3 import NotificationVerifier, VerificationError


def parse_time(value: str | None) -> int | None:
    return from_datetime(dt.datetime.fromisoformat(value)) if value else None


def payment_of(data: Mapping[str, Any]) -> Payment:
    """A v3 transaction (query answer or decrypted notification resource)."""
    try:
        return Payment(out_trade_no=str(data["out_trade_no"]),
                       state=TradeState(data["trade_state"]),
                       amount_fen=int(data["amount"]["total"]),
                       transaction_id=data.get("transaction_id") or None,
                       success_ms=parse_time(data.get("success_time")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError("bad_answer", f"unexpected transaction: {exc}") from exc


class SimulatedProvider:
    name = "simulated"

    def __init__(self, api_base: str, merchant_id: str, token: str,
                 verifier: NotificationVerifier, timeout_s: float) -> None:
        self.api_base = api_base.rstrip("/")
        self.merchant_id = merchant_id
        self.verifier = verifier
        self.timeout_s = timeout_s
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_config(cls, config: PaymentsSection) -> SimulatedProvider:
        """A missing or unreadable credential is a set-up error naming the file."""
        try:
            token = Path(config.merchant_token_file).read_text(encoding="ascii").strip()
            verifier = NotificationVerifier.load(config.provider_cert_file,
                                                 config.api_v3_key_file,
                                                 config.notification_max_age_s)
        except (OSError, ValueError) as exc:
            raise PlatformConfigError(f"[payments] provider 'simulated': {exc}") from exc
        return cls(config.api_base, config.merchant_id, token, verifier, config.timeout_s)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            reply = self.http.request(method, self.api_base + path, json=body,
                                      params={"mchid": self.merchant_id} if method == "GET"
                                      else None, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise ProviderError("unreachable", type(exc).__name__, retryable=True) from exc
        if reply.status_code >= 500:
            raise ProviderError("SYSTEM_ERROR", reply.text[:200], retryable=True)
        if reply.status_code >= 400:
            try:
                code = str(reply.json()["code"])
            except (ValueError, KeyError, TypeError):
                code = f"HTTP_{reply.status_code}"
            raise ProviderError(code, reply.text[:200])
        return reply.json() if reply.content else None

    def create_order(self, *, out_trade_no: str, amount_fen: int, description: str,
                     notify_url: str, expires_ms: int) -> str:
        answer = self._call("POST", "/v3/pay/transactions/native", {
            "mchid": self.merchant_id, "out_trade_no": out_trade_no,
            "description": description, "notify_url": notify_url,
            "time_expire": to_datetime(expires_ms).isoformat(),
            "amount": {"total": amount_fen, "currency": "CNY"}})
        return str(answer["code_url"])

    def query(self, out_trade_no: str) -> Payment:
        return payment_of(self._call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}"))

    def close(self, out_trade_no: str) -> None:
        self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
                   {"mchid": self.merchant_id})

    def refund(self, *, out_trade_no: str, out_refund_no: str, amount_fen: int,
               total_fen: int, reason: str) -> Refund:
        answer = self._call("POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": out_trade_no, "out_refund_no": out_refund_no, "reason": reason,
            "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"}})
        return Refund(str(answer["refund_id"]), int(answer["amount"]["refund"]),
                      str(answer["status"]))

    def verify_notification(self, headers: Mapping[str, str], body: bytes,
                            now_ms: int) -> Payment:
        try:
            resource = self.verifier.open(headers, body, now_ms // 1000)
        except VerificationError as exc:
            raise NotificationRejected(exc.reason) from exc
        if resource.get("mchid") != self.merchant_id:
            raise NotificationRejected("other_merchant")
        try:
            return payment_of(resource)
        except ProviderError as exc:
            raise NotificationRejected("bad_resource") from exc
