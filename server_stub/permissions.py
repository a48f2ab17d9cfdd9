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

A kiosk reads a patient's bills, quotes and credit only with an identification token that it
got by identifying that patient (``IDENTIFIED`` cells, server_stub/identification.py); the
token is checked before anything is looked up, so a kiosk without one learns nothing, not even
whether the patient exists. A counter's look-up of a patient by id is audited
(``patient.looked_up``).

Which payment methods a role may record is here too (``may_settle``): cash is a counter's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from sqlalchemy import Connection, bindparam, select

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub import audit, relatives
from server_stub.clock import now_ms
from server_stub.db import bills
from server_stub.db import relatives as relatives_table
from server_stub.identification import IdentificationKeys
from server_stub.records.devices import Device
from server_stub.storage import Database


class Reach(Enum):
    SITE = "site"
    RESOURCE = "resource"
    PATIENT = "patient"


class Access(Enum):
    ALLOW = "allow"
    ROLE = "role"  # 403 auth.role_forbidden
    HIDDEN = "hidden"  # 404 with the row's not-found code, as if the target did not exist
    REASON = "reason"  # allowed with a reason (audited); without one 422 repayment.reason_required
    # allowed with this device's identification token for the patient; a kiosk of another
    # site never gets one, so there it is always 403 auth.identification_required
    IDENTIFIED = "identified"


V = TypeVar("V")
A, R, H, Y, T = Access.ALLOW, Access.ROLE, Access.HIDDEN, Access.REASON, Access.IDENTIFIED


@dataclass(frozen=True)
class Rule:
    """One row: what each role may do with a target of its own site and of another."""

    reach: Reach
    kiosk_own: Access
    kiosk_other: Access
    counter_own: Access
    counter_other: Access
    hidden: ErrorCode | None = None  # the 404 code of HIDDEN cells
    audited: bool = False  # a counter's look-up here writes a patient.looked_up record
    his_own: Access = Access.ROLE  # the hospital system: only the bill feed is its
    his_other: Access = Access.ROLE

    def cell(self, role: schemas.Role, own: bool) -> Access:
        if role == schemas.Role.COUNTER:
            return self.counter_own if own else self.counter_other
        if role == schemas.Role.HIS:
            return self.his_own if own else self.his_other
        return self.kiosk_own if own else self.kiosk_other


def _site(kiosk: Access, counter: Access) -> Rule:
    return Rule(Reach.SITE, kiosk, kiosk, counter, counter)


def _resource(kiosk: Access, hidden: ErrorCode) -> Rule:
    other = H if kiosk is A else kiosk
    return Rule(Reach.RESOURCE, kiosk, other, A, H, hidden)


def _his_bill(reach: Reach) -> Rule:
    """A bill-feed route: the hospital system's alone. A bill number is looked up in the
    system's own site, so another site's bill is as unknown as a missing one."""
    resource = reach is Reach.RESOURCE
    return Rule(reach, R, R, R, R, ErrorCode.BILL_NOT_FOUND if resource else None,
                his_own=A, his_other=H if resource else A)


def _patient(kiosk_own: Access, kiosk_other: Access, counter_other: Access,
             hidden: ErrorCode | None = None, *, audited: bool = False) -> Rule:
    return Rule(Reach.PATIENT, kiosk_own, kiosk_other, A, counter_other, hidden, audited)


_PATIENT, _CARD, _VOUCHER = (ErrorCode.PATIENT_NOT_FOUND, ErrorCode.CARD_NOT_FOUND,
                             ErrorCode.VOUCHER_NOT_FOUND)
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/v1/gallery"): _site(A, A),
    # a face match is against this site's gallery only, whoever asks
    ("POST", "/v1/identify/face"): Rule(Reach.PATIENT, A, H, A, H, _PATIENT),
    ("POST", "/v1/identify/card"): _patient(A, H, A, _CARD),
    ("POST", "/v1/identify/voucher"): _patient(A, H, A, _VOUCHER),
    ("POST", "/v1/second-factor/verify"): _patient(A, H, A, _PATIENT),
    ("POST", "/v1/second-factor/narrow"): _site(A, A),
    ("GET", "/v1/patients/{patient_id}"): _patient(R, R, A, audited=True),
    ("GET", "/v1/patients/{patient_id}/bills"): _patient(T, T, A, _PATIENT, audited=True),
    ("POST", "/v1/patients/{patient_id}/templates"): _patient(R, R, A),
    ("POST", "/v1/patients/{patient_id}/consent/withdraw"): _patient(R, R, A),
    ("POST", "/v1/quotes"): _resource(T, ErrorCode.BILL_NOT_FOUND),
    ("POST", "/v1/settlements"): _resource(A, ErrorCode.BILL_NOT_FOUND),
    ("GET", "/v1/settlements"): _site(R, A),
    ("GET", "/v1/settlements/{settlement_id}"): _resource(A, ErrorCode.SETTLEMENT_NOT_FOUND),
    ("POST", "/v1/settlements/{settlement_id}/reverse"): _resource(
        R, ErrorCode.SETTLEMENT_NOT_FOUND),
    ("POST", "/v1/repayments"): _patient(R, R, Y),
    # 我的欠款 and repayment through the payment provider (server_stub/repayment_orders.py)
    ("GET", "/v1/patients/{patient_id}/credit"): _patient(T, T, A, _PATIENT, audited=True),
    ("POST", "/v1/repay-orders"): _patient(T, T, A, _PATIENT),
    ("GET", "/v1/repay-orders/{order_id}"): _resource(A, ErrorCode.REPAY_ORDER_NOT_FOUND),
    ("POST", "/v1/repay-orders/{order_id}/close"): _resource(
        A, ErrorCode.REPAY_ORDER_NOT_FOUND),
    # 亲情付: the counter records a patient's consent; the identified relative lists whom
    # they may pay for (server_stub/routes/family.py)
    ("POST", "/v1/patients/{patient_id}/relatives"): _patient(R, R, A),
    ("GET", "/v1/patients/{patient_id}/relatives"): _patient(R, R, A, audited=True),
    ("POST", "/v1/patients/{patient_id}/relatives/{relative_id}/withdraw"): _patient(R, R, A),
    ("GET", "/v1/patients/{patient_id}/dependants"): _patient(T, T, A, _PATIENT, audited=True),
    ("POST", "/v1/reconcile"): _site(A, A),
    ("GET", "/v1/reconciliation/{date}"): _site(R, A),
    ("POST", "/v1/handoffs"): _site(A, A),
    ("GET", "/v1/handoffs"): _site(R, A),
    ("POST", "/v1/handoffs/{handoff_id}/take"): _resource(R, ErrorCode.HANDOFF_NOT_FOUND),
    ("POST", "/v1/handoffs/{handoff_id}/resolve"): _resource(R, ErrorCode.HANDOFF_NOT_FOUND),
    ("POST", "/v1/handoffs/{handoff_id}/dismiss"): _resource(R, ErrorCode.HANDOFF_NOT_FOUND),
    ("POST", "/v1/heartbeat"): _site(A, A),
    ("POST", "/v1/his/bills"): _his_bill(Reach.SITE),
    ("GET", "/v1/his/bills/{bill_no}"): _his_bill(Reach.RESOURCE),
    ("POST", "/v1/his/bills/{bill_no}/amend"): _his_bill(Reach.RESOURCE),
    ("POST", "/v1/his/bills/{bill_no}/cancel"): _his_bill(Reach.RESOURCE),
}

# settlement methods each role may record (repayments are a counter's, all methods)
SETTLE_METHODS: dict[schemas.Role, frozenset[schemas.PaymentMethod]] = {
    schemas.Role.KIOSK: frozenset({schemas.PaymentMethod.FACE, schemas.PaymentMethod.CARD,
                                   schemas.PaymentMethod.VOUCHER}),
    schemas.Role.COUNTER: frozenset(schemas.PaymentMethod),
    schemas.Role.HIS: frozenset(),
}

_HIDDEN_MESSAGES = {
    ErrorCode.PATIENT_NOT_FOUND: "no credit user with this patient id",
    ErrorCode.CARD_NOT_FOUND: "no credit user holds this card",
    ErrorCode.VOUCHER_NOT_FOUND: "no such e-voucher",
}
_HAS_BILL_AT = select(bills.c.bill_id).where(
    bills.c.patient_id == bindparam("patient_id"), bills.c.site_id == bindparam("site_id")
).limit(1)
_RELATIVE_AT = select(relatives_table.c.patient_id).join(
    bills, bills.c.patient_id == relatives_table.c.patient_id).where(
    relatives_table.c.relative_id == bindparam("patient_id"),
    relatives_table.c.withdrawn_ms.is_(None), bills.c.site_id == bindparam("site_id")).limit(1)


def may_settle(role: schemas.Role, method: schemas.PaymentMethod) -> bool:
    return method in SETTLE_METHODS[role]


def patient_of_site(conn: Connection, patient_id: str, site_id: str) -> bool:
    """A patient is of a site when they have a bill there, of any status — or when someone
    with a bill there authorised them as a relative (亲情付), who may come to pay."""
    key = {"patient_id": patient_id, "site_id": site_id}
    return (conn.execute(_HAS_BILL_AT, key).first() is not None
            or conn.execute(_RELATIVE_AT, key).first() is not None)


def _forbidden() -> ProtocolError:
    return ProtocolError(ErrorCode.ROLE_FORBIDDEN, "this device's role may not do this")


@dataclass(frozen=True)
class Grant:
    """A device admitted to a route by its row; patient routes call ``patient`` as well."""

    device: Device
    rule: Rule
    route: str
    keys: IdentificationKeys
    identification: str | None = None  # the request's ?identification= token

    @classmethod
    def admit(cls, device: Device, method: str, route: str, keys: IdentificationKeys,
              identification: str | None = None) -> Grant:
        """Refuse a role that no cell of the row lets in; unknown routes are refused too."""
        rule = RULES.get((method, route))
        if rule is None:
            raise _forbidden()
        if rule.cell(device.role, True) is R and rule.cell(device.role, False) is R:
            raise _forbidden()
        return cls(device, rule, f"{method} {route}", keys, identification)

    @property
    def audits_lookup(self) -> bool:
        """The route must run in a write transaction: it records a counter's look-up."""
        return self.rule.audited and self.device.role == schemas.Role.COUNTER

    def look_up(self, db: Database, fn: Callable[[Connection], V]) -> V:
        """Run a patient look-up: a read, or a write transaction when ``patient`` will
        record it (a counter's look-up on an audited row)."""
        if self.audits_lookup:
            return db.transact(fn)
        with db.read() as conn:
            return fn(conn)

    def identified(self, conn: Connection, patient_id: str) -> str:
        """On an IDENTIFIED row, a kiosk shows its own token for this patient, checked before
        any look-up so that its absence tells nothing about the patient. Returns the relative
        the token was issued via ("" for the patient themselves, and for counters), whose
        authorisation must still stand (server_stub/relatives.py)."""
        if self.rule.cell(self.device.role, True) is not T:
            return ""
        via = self.keys.check(self.identification, device_id=self.device.device_id,
                              patient_id=patient_id, now=now_ms())
        if via:
            relatives.require_authorised(conn, patient_id, via)
        return via

    def patient(self, conn: Connection, patient_id: str, *, reason: str | None = None) -> str:
        """Apply the row's cell for this patient; HIDDEN answers as if they did not exist.
        Returns the relative acting for the patient, as ``identified`` does."""
        via = self.identified(conn, patient_id)
        own = patient_of_site(conn, patient_id, self.device.site_id)
        access = self.rule.cell(self.device.role, own)
        if access in (A, T) or (access is Y and reason):
            if self.audits_lookup:
                audit.append(conn, at_ms=now_ms(), actor=self.device.actor,
                             action="patient.looked_up", subject=patient_id,
                             details={"route": self.route, "own_site": own})
            return via
        if access is Y:
            raise ProtocolError(ErrorCode.REASON_REQUIRED, "a repayment for a patient of "
                                "another site needs a reason", field="reason")
        if access is H and self.rule.hidden is not None:
            raise ProtocolError(self.rule.hidden, _HIDDEN_MESSAGES[self.rule.hidden])
        raise _forbidden()
