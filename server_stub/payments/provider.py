"""The payment-provider adapter: what the platform needs of WeChat Pay, Alipay or UnionPay to
take a repayment through a QR the kiosk shows.

The seam is ``[payments] provider`` and ``make_provider``: a real provider is one more class
implementing ``PaymentProvider`` (its own request signing, certificates and notification
format) and one more name there. Everything else — orders, crediting exactly once, late and
forged notifications — is the platform's (``server_stub.repayment_orders``) and does not
change with the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from server_stub.config import PaymentsSection


class TradeState(StrEnum):
    """The provider's view of an order (WeChat Pay's ``trade_state`` names)."""

    NOTPAY = "NOTPAY"  # payable, not paid
    SUCCESS = "SUCCESS"  # paid
    PAYERROR = "PAYERROR"  # the payer's payment failed
    CLOSED = "CLOSED"  # closed by the merchant or expired
    REFUND = "REFUND"  # paid, then (partly) refunded


class ProviderError(Exception):
    """The provider refused (``code`` is its own, e.g. ``ORDER_PAID``) or did not answer
    (``code`` ``unreachable``; then ``retryable``)."""

    def __init__(self, code: str, message: str = "", *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.retryable = retryable


class NotificationRejected(Exception):
    """A notification that did not verify; ``reason`` is the failed check, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Payment:
    """An order as the provider reports it (query answer or verified notification)."""

    out_trade_no: str
    state: TradeState
    amount_fen: int
    transaction_id: str | None = None
    success_ms: int | None = None


@dataclass(frozen=True)
class Refund:
    refund_id: str
    amount_fen: int
    status: str  # SUCCESS | PROCESSING


class PaymentProvider(Protocol):
    name: str  # [payments] provider; also the repayment's reference prefix

    def create_order(self, *, out_trade_no: str, amount_fen: int, description: str,
                     notify_url: str, expires_ms: int) -> str:
        """Open a payable order; the code_url its QR encodes (same order, same answer)."""
        ...

    def query(self, out_trade_no: str) -> Payment: ...

    def close(self, out_trade_no: str) -> None:
        """Make the order unpayable; ``ProviderError("ORDER_PAID")`` if it was paid."""
        ...

    def refund(self, *, out_trade_no: str, out_refund_no: str, amount_fen: int,
               total_fen: int, reason: str) -> Refund: ...

    def verify_notification(self, headers: Mapping[str, str], body: bytes,
                            now_ms: int) -> Payment:
        """The payment a notification reports, or ``NotificationRejected``."""
        ...


def make_provider(config: PaymentsSection) -> PaymentProvider | None:
    """The configured provider; None when kiosks take no repayments."""
    if not config.provider:
        return None
    if config.provider == "simulated":
        from server_stub.payments.simulated import SimulatedProvider

        return SimulatedProvider.from_config(config)
    raise ValueError(f"unknown payment provider {config.provider!r}")
