"""Wire error codes: stable dotted strings, each with the one HTTP status it travels with.

A client decides what to do from ``code`` alone (retry, ask the cashier, show a message);
the status is there for HTTP tooling. Codes never change meaning once released.
Every error body is ``{"error": {"code": ..., "message": ..., "details": {...}}}``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # request shape
    MALFORMED_JSON = "request.malformed_json"
    INVALID_REQUEST = "request.invalid"
    BODY_TOO_LARGE = "request.too_large"
    UNSUPPORTED_MEDIA_TYPE = "request.unsupported_media_type"
    ROUTE_NOT_FOUND = "request.not_found"
    METHOD_NOT_ALLOWED = "request.method_not_allowed"
    # request authentication (RFC 9421 / RFC 9530)
    SIGNATURE_MISSING = "auth.signature_missing"
    SIGNATURE_PARAM_MISSING = "auth.param_missing"
    BAD_SIGNATURE = "auth.bad_signature"
    UNKNOWN_KEY = "auth.unknown_key"
    DEVICE_REVOKED = "auth.device_revoked"
    CLOCK_SKEW = "auth.clock_skew"
    NONCE_REPLAYED = "auth.nonce_replayed"
    DIGEST_MISMATCH = "auth.digest_mismatch"
    COMPONENT_MISSING = "auth.component_missing"
    ROLE_FORBIDDEN = "auth.role_forbidden"
    # a kiosk's patient look-up without a valid identification token of its own (§8.2)
    IDENTIFICATION_REQUIRED = "auth.identification_required"
    IDENTIFICATION_EXPIRED = "auth.identification_expired"
    OPERATOR_TOKEN_INVALID = "auth.operator_token"  # /metrics: no or wrong bearer token
    DEVICE_LOCKED = "auth.device_locked"  # too many failed authentications: wait
    RATE_LIMITED = "auth.rate_limited"  # too many requests from one device: slow down
    # signed with the other crypto profile's algorithm, or a device registered under it (§2.1)
    CRYPTO_PROFILE_MISMATCH = "auth.crypto_profile_mismatch"
    # device enrolment
    TOKEN_INVALID = "device.token_invalid"
    PUBLIC_KEY_INVALID = "device.public_key_invalid"
    # idempotency
    IDEMPOTENCY_KEY_MISSING = "idempotency.key_missing"
    IDEMPOTENCY_KEY_REUSED = "idempotency.key_reused"
    IDEMPOTENCY_IN_FLIGHT = "idempotency.in_flight"
    # business
    PATIENT_NOT_FOUND = "patient.not_found"
    CARD_NOT_FOUND = "card.not_found"
    VOUCHER_MALFORMED = "voucher.malformed"
    VOUCHER_NOT_FOUND = "voucher.not_found"
    VOUCHER_EXPIRED = "voucher.expired"
    VOUCHER_REVOKED = "voucher.revoked"
    SECOND_FACTOR_LOCKED = "second_factor.locked"
    BILL_NOT_FOUND = "bill.not_found"
    BILL_ALREADY_SETTLED = "bill.already_settled"
    BILL_PATIENT_MISMATCH = "bill.patient_mismatch"
    QUOTE_CHANGED = "settlement.quote_changed"
    SETTLEMENT_NOT_FOUND = "settlement.not_found"
    SETTLEMENT_ALREADY_REVERSED = "settlement.already_reversed"
    CREDIT_LIMIT_EXCEEDED = "credit.limit_exceeded"
    USER_SUSPENDED = "credit.user_suspended"
    USER_BLACKLISTED = "credit.user_blacklisted"
    CONSENT_MISSING = "consent.missing"
    AMOUNT_INVALID = "amount.invalid"
    AMOUNT_EXCEEDS_BALANCE = "amount.exceeds_balance"
    REASON_REQUIRED = "repayment.reason_required"  # another site's patient: say why
    TEMPLATE_INVALID = "template.invalid"
    HANDOFF_NOT_FOUND = "handoff.not_found"
    FAMILY_NOT_AUTHORISED = "family.not_authorised"  # no active 亲情付 authorisation
    FAMILY_SELF = "family.self"  # a patient cannot be their own relative
    HANDOFF_ALREADY_TAKEN = "handoff.already_taken"
    HANDOFF_ALREADY_CLOSED = "handoff.already_closed"
    BILL_CANCELLED = "bill.cancelled"  # the hospital system cancelled it
    # the hospital information system's bill feed (server_stub/his.py)
    HIS_BILL_CONFLICT = "his.bill_conflict"  # this bill number already holds other content
    HIS_BILL_SETTLED = "his.bill_settled"  # settled: amend/cancel goes to the cashier
    # repayment through a payment provider (server_stub/repayment_orders.py)
    REPAY_ORDER_NOT_FOUND = "repay_order.not_found"
    PAYMENT_UNAVAILABLE = "payment.unavailable"  # the provider did not answer: retry
    PAYMENT_NOT_OFFERED = "payment.not_offered"  # this platform has no payment provider
    NOTIFICATION_INVALID = "payment.notification_invalid"  # a callback that does not verify
    # server side
    INTERNAL = "server.internal"
    STORAGE_UNAVAILABLE = "server.storage"  # the platform cannot write (disk full, I/O error)
    # client side only: never sent by the server, raised by the response verifier
    UNTRUSTED_RESPONSE = "client.untrusted_response"
    TLS_PIN_MISMATCH = "client.tls_pin_mismatch"  # not the certificate pinned at provisioning
    INSECURE_TRANSPORT = "client.insecure_transport"  # plain http:// to a non-loopback host


STATUS: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.ROUTE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.SIGNATURE_MISSING: 401,
    ErrorCode.SIGNATURE_PARAM_MISSING: 400,
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.UNKNOWN_KEY: 401,
    ErrorCode.DEVICE_REVOKED: 403,
    ErrorCode.CLOCK_SKEW: 401,
    ErrorCode.NONCE_REPLAYED: 401,
    ErrorCode.DIGEST_MISMATCH: 400,
    ErrorCode.COMPONENT_MISSING: 400,
    ErrorCode.ROLE_FORBIDDEN: 403,
    ErrorCode.IDENTIFICATION_REQUIRED: 403,
    ErrorCode.IDENTIFICATION_EXPIRED: 403,
    ErrorCode.OPERATOR_TOKEN_INVALID: 401,
    ErrorCode.DEVICE_LOCKED: 423,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CRYPTO_PROFILE_MISMATCH: 401,
    ErrorCode.TOKEN_INVALID: 403,
    ErrorCode.PUBLIC_KEY_INVALID: 422,
    ErrorCode.IDEMPOTENCY_KEY_MISSING: 400,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.IDEMPOTENCY_IN_FLIGHT: 409,
    ErrorCode.PATIENT_NOT_FOUND: 404,
    ErrorCode.CARD_NOT_FOUND: 404,
    ErrorCode.VOUCHER_MALFORMED: 400,
    ErrorCode.VOUCHER_NOT_FOUND: 404,
    ErrorCode.VOUCHER_EXPIRED: 410,
    ErrorCode.VOUCHER_REVOKED: 410,
    ErrorCode.SECOND_FACTOR_LOCKED: 423,
    ErrorCode.BILL_NOT_FOUND: 404,
    ErrorCode.BILL_ALREADY_SETTLED: 409,
    ErrorCode.BILL_PATIENT_MISMATCH: 409,
    ErrorCode.QUOTE_CHANGED: 409,
    ErrorCode.SETTLEMENT_NOT_FOUND: 404,
    ErrorCode.SETTLEMENT_ALREADY_REVERSED: 409,
    ErrorCode.CREDIT_LIMIT_EXCEEDED: 402,
    ErrorCode.USER_SUSPENDED: 403,
    ErrorCode.USER_BLACKLISTED: 403,
    ErrorCode.CONSENT_MISSING: 403,
    ErrorCode.AMOUNT_INVALID: 422,
    ErrorCode.AMOUNT_EXCEEDS_BALANCE: 422,
    ErrorCode.REASON_REQUIRED: 422,
    ErrorCode.TEMPLATE_INVALID: 422,
    ErrorCode.HANDOFF_NOT_FOUND: 404,
    ErrorCode.FAMILY_NOT_AUTHORISED: 403,
    ErrorCode.FAMILY_SELF: 422,
    ErrorCode.HANDOFF_ALREADY_TAKEN: 409,
    ErrorCode.HANDOFF_ALREADY_CLOSED: 409,
    ErrorCode.BILL_CANCELLED: 409,
    ErrorCode.HIS_BILL_CONFLICT: 409,
    ErrorCode.HIS_BILL_SETTLED: 409,
    ErrorCode.REPAY_ORDER_NOT_FOUND: 404,
    ErrorCode.PAYMENT_UNAVAILABLE: 503,
    ErrorCode.PAYMENT_NOT_OFFERED: 409,
    ErrorCode.NOTIFICATION_INVALID: 401,
    ErrorCode.INTERNAL: 500,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.UNTRUSTED_RESPONSE: 502,
    ErrorCode.TLS_PIN_MISMATCH: 495,
    ErrorCode.INSECURE_TRANSPORT: 400,
}


class ProtocolError(Exception):
    """An error that crosses the wire. ``details`` must be safe to log (no PII)."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": str(self.code), "message": self.message,
                          "details": self.details}}

    @classmethod
    def from_body(cls, status: int, body: Any) -> ProtocolError:
        """Rebuild the error a server sent; an unknown or garbled body becomes INTERNAL."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            try:
                code = ErrorCode(error.get("code"))
            except ValueError:
                code = None
            if code is not None:
                details = error.get("details")
                return cls(code, str(error.get("message", "")),
                           **(details if isinstance(details, dict) else {}))
        return cls(ErrorCode.INTERNAL, f"unrecognised error response (HTTP {status})",
                   http_status=status)
