"""The permission matrix (docs/protocol.md §8.1): role × own/other site × endpoint, one table.

Every signed route has one row in ``RULES``; a route consults it through ``Grant`` and never
tests a role or a site itself. Three kinds of row, by what "other site" means there:

* ``SITE`` — the route only ever reads or writes the device's own site (gallery, day lists,
  hand-off feed, heartbeat): there is no other-site target to ask for;
* ``RESOURCE`` — a bill, settlement or hand-off: it is looked up *by the device's site*, so
  another site's is as unknown as a missing one (the lookup itself is the check);
* ``PATIENT`` — a patient named in the path or body, or found by a card/voucher look-up: the
  patient is *of* a site when they have a bill (of any status) there. A kiosk sees no
  patient of another site (the answer is the same ``404`` as for an unknown one, so a
  stolen kiosk key cannot tell whom the platform knows); a counter may serve any patient,
  but records a repayment for a patient of another site only with a ``reason`` (audited).

Which payment methods a role may record is here too (``may_settle``): cash is a counter's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Connection, bindparam, select

from kiosk.protocol import schemas
from kiosk.protocol.errors import ErrorCode, ProtocolError
from server_stub.db import bills
from server_stub.directory import Device


class Reach(Enum):
    SITE = "site"
    RESOURCE = "resource"
    PATIENT = "patient"


class Access(Enum):
    ALLOW = "allow"
    ROLE = "role"  # 403 auth.role_forbidden
    HIDDEN = "hidden"  # 404 with the row's not-found code, as if the target did not exist
    REASON = "reason"  # allowed with a reason (audited); without one 422 repayment.reason_required


A, R, H, Y = Access.ALLOW, Access.ROLE, Access.HIDDEN, Access.REASON


@dataclass(frozen=True)
class Rule:
    """One row: what each role may do with a target of its own site and of another."""

    reach: Reach
    kiosk_own: Access
    kiosk_other: Access
    counter_own: Access
    counter_other: Access
    hidden: ErrorCode | None = None  # the 404 code of HIDDEN cells

    def cell(self, role: schemas.Role, own: bool) -> Access:
        if role == schemas.Role.COUNTER:
            return self.counter_own if own else self.counter_other
        return self.kiosk_own if own else self.kiosk_other


def _site(kiosk: Access, counter: Access) -> Rule:
    return Rule(Reach.SITE, kiosk, kiosk, counter, counter)


def _resource(kiosk: Access, hidden: ErrorCode) -> Rule:
    other = H if kiosk is A else kiosk
    return Rule(Reach.RESOURCE, kiosk, other, A, H, hidden)


def _patient(kiosk_own: Access, kiosk_other: Access, counter_other: Access,
             hidden: ErrorCode | None = None) -> Rule:
    return Rule(Reach.PATIENT, kiosk_own, kiosk_other, A, counter_other, hidden)


_PATIENT, _CARD, _VOUCHER = (ErrorCode.PATIENT_NOT_FOUND, ErrorCode.CARD_NOT_FOUND,
                             ErrorCode.VOUCHER_NOT_FOUND)
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/v1/gallery"): _site(A, A),
    ("POST", "/v1/identify/card"): _patient(A, H, A, _CARD),
    ("POST", "/v1/identify/voucher"): _patient(A, H, A, _VOUCHER),
    ("POST", "/v1/second-factor/verify"): _patient(A, H, A, _PATIENT),
    ("POST", "/v1/second-factor/narrow"): _site(A, A),
    ("GET", "/v1/patients/{patient_id}"): _patient(R, R, A),
    ("GET", "/v1/patients/{patient_id}/bills"): _patient(A, H, A, _PATIENT),
    ("POST", "/v1/patients/{patient_id}/templates"): _patient(R, R, A),
    ("POST", "/v1/patients/{patient_id}/consent/withdraw"): _patient(R, R, A),
    ("POST", "/v1/quotes"): _resource(A, ErrorCode.BILL_NOT_FOUND),
    ("POST", "/v1/settlements"): _resource(A, ErrorCode.BILL_NOT_FOUND),
    ("GET", "/v1/settlements"): _site(R, A),
    ("GET", "/v1/settlements/{settlement_id}"): _resource(A, ErrorCode.SETTLEMENT_NOT_FOUND),
    ("POST", "/v1/settlements/{settlement_id}/reverse"): _resource(
        R, ErrorCode.SETTLEMENT_NOT_FOUND),
    ("POST", "/v1/repayments"): _patient(R, R, Y),
    ("POST", "/v1/reconcile"): _site(A, A),
    ("GET", "/v1/reconciliation/{date}"): _site(R, A),
    ("POST", "/v1/handoffs"): _site(A, A),
    ("GET", "/v1/handoffs"): _site(R, A),
    ("POST", "/v1/handoffs/{handoff_id}/take"): _resource(R, ErrorCode.HANDOFF_NOT_FOUND),
    ("POST", "/v1/handoffs/{handoff_id}/resolve"): _resource(R, ErrorCode.HANDOFF_NOT_FOUND),
    ("POST", "/v1/handoffs/{handoff_id}/dismiss"): _resource(R, ErrorCode.HANDOFF_NOT_FOUND),
    ("POST", "/v1/heartbeat"): _site(A, A),
}

# settlement methods each role may record (repayments are a counter's, all methods)
SETTLE_METHODS: dict[schemas.Role, frozenset[schemas.PaymentMethod]] = {
    schemas.Role.KIOSK: frozenset({schemas.PaymentMethod.FACE, schemas.PaymentMethod.CARD,
                                   schemas.PaymentMethod.VOUCHER}),
    schemas.Role.COUNTER: frozenset(schemas.PaymentMethod),
}

_HIDDEN_MESSAGES = {
    ErrorCode.PATIENT_NOT_FOUND: "no credit user with this patient id",
    ErrorCode.CARD_NOT_FOUND: "no credit user holds this card",
    ErrorCode.VOUCHER_NOT_FOUND: "no such e-voucher",
}
_HAS_BILL_AT = select(bills.c.bill_id).where(
    bills.c.patient_id == bindparam("patient_id"), bills.c.site_id == bindparam("site_id")
).limit(1)


def may_settle(role: schemas.Role, method: schemas.PaymentMethod) -> bool:
    return method in SETTLE_METHODS[role]


def patient_of_site(conn: Connection, patient_id: str, site_id: str) -> bool:
    """A patient is of a site when they have a bill there, of any status."""
    return conn.execute(_HAS_BILL_AT, {"patient_id": patient_id,
                                       "site_id": site_id}).first() is not None


def _forbidden() -> ProtocolError:
    return ProtocolError(ErrorCode.ROLE_FORBIDDEN, "this device's role may not do this")


@dataclass(frozen=True)
class Grant:
    """A device admitted to a route by its row; patient routes call ``patient`` as well."""

    device: Device
    rule: Rule

    @classmethod
    def admit(cls, device: Device, method: str, route: str) -> Grant:
        """Refuse a role that no cell of the row lets in; unknown routes are refused too."""
        rule = RULES.get((method, route))
        if rule is None:
            raise _forbidden()
        if rule.cell(device.role, True) is R and rule.cell(device.role, False) is R:
            raise _forbidden()
        return cls(device, rule)

    def patient(self, conn: Connection, patient_id: str, *, reason: str | None = None) -> None:
        """Apply the row's cell for this patient; HIDDEN answers as if they did not exist."""
        own = patient_of_site(conn, patient_id, self.device.site_id)
        access = self.rule.cell(self.device.role, own)
        if access is A or (access is Y and reason):
            return
        if access is Y:
            raise ProtocolError(ErrorCode.REASON_REQUIRED, "a repayment for a patient of "
                                "another site needs a reason", field="reason")
        if access is H and self.rule.hidden is not None:
            raise ProtocolError(self.rule.hidden, _HIDDEN_MESSAGES[self.rule.hidden])
        raise _forbidden()
