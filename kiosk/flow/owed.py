"""我的欠款 (what I owe) and repaying it at the kiosk, as part of the checkout flow.

idle → owed_identify → (face: searching → liveness → [second_factor]) or card / e-voucher →
looking_up → owed (the charges, due dates; nothing more) → repay_qr (the provider's payment
QR; the order is polled) → repaid, or back to owed with a notice when the payment failed or
the QR ran out, or → fallback ``repay.unconfirmed`` when the kiosk cannot tell whether money
moved. Leaving the QR (cancel, its time up) first closes the order at the platform, which
says whether the payer paid meanwhile — then it is repaid, not lost.

The identification result the backend returned is kept in the session (``Statement.identity``)
and handed back for the repayment, so the platform sees the same identification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from common.errors import ErrorCode
from kiosk.flow.effects import Audit, CloseRepayOrder, Effect, OpenRepayOrder, PollRepayOrder
from kiosk.flow.family import FamilyMember
from kiosk.flow.model import KioskPatient, State
from kiosk.protocol.schemas import PaymentMethod

if TYPE_CHECKING:
    from kiosk.config import FlowConfig
    from kiosk.flow.machine import Session

POLL_S = 2.0  # how often the kiosk asks the platform about an open payment QR
CLOSE_GRACE_S = 5.0  # past the QR's expiry, before the kiosk closes it itself


class Purpose:
    CHECKOUT = "checkout"
    OWED = "owed"


@dataclass(frozen=True)
class KioskOwedCharge:
    """A charge on the statement: the kiosk's translation of the wire's ``schemas.OwedCharge``."""

    settlement_id: str
    receipt_no: str
    owed_fen: int
    due_date: dt.date  # the platform's calendar day ([server] timezone, the site's)
    overdue: bool


@dataclass(frozen=True)
class Statement:
    patient: KioskPatient
    outstanding_fen: int
    charges: tuple[KioskOwedCharge, ...]
    can_repay: bool  # the platform has a payment provider
    identity: Any = field(default=None, repr=False, compare=False)  # handed back to repay
    family: tuple[FamilyMember, ...] = ()  # 亲情付: whom this person may pay for


@dataclass(frozen=True)
class KioskRepayOrder:
    """The payment QR on screen: the kiosk's translation of the wire's ``schemas.RepayOrder``."""

    order_id: str
    amount_fen: int
    code_url: str
    state: str  # open | paid | failed | closed | expired
    expires_in_s: float  # from when the kiosk received this answer
    outstanding_fen: int | None = None  # after the repayment (paid)


# what ends an order without payment, as the screen's notice on the statement
_ENDED_NOTICE = {"failed": "owed.repay_failed", "expired": "owed.repay_timeout",
                 "closed": "owed.repay_cancelled"}


class OwedFlow:
    """The 我的欠款 states of ``CheckoutFlow`` (which provides the helpers declared here)."""

    cfg: FlowConfig
    state: State
    guidance: str
    session: Session | None
    purpose: str
    face_available: bool
    cashier_called: bool
    deadline: float
    if TYPE_CHECKING:
        def new_id(self) -> str: ...
        def start_face(self, now: float) -> list[Effect]: ...
        def _new_session(self, now: float, method: PaymentMethod) -> None: ...
        def _enter(self, state: State, now: float, timeout: float, guidance: str) -> None: ...
        def _fallback(self, now: float, reason: ErrorCode) -> list[Effect]: ...
        def _current(self, session_id: str) -> bool: ...
        def family_withdrawn(self, now: float) -> list[Effect]: ...

    # ------------------------------------------------------------ commands
    def start_owed(self, now: float) -> list[Effect]:
        """我的欠款 on the start screen: then the face, the card or the e-voucher."""
        if self.state != State.IDLE:
            return []
        self.purpose = Purpose.OWED
        self._new_session(now, PaymentMethod.FACE)
        assert self.session is not None
        self._enter(State.OWED_IDENTIFY, now, self.cfg.review_timeout_s, "owed.identify")
        return [Audit("session.started", {"session": self.session.id, "purpose": "owed"})]

    def owed_face(self, now: float) -> list[Effect]:
        """The face, chosen on the 我的欠款 screen."""
        if self.state != State.OWED_IDENTIFY:
            return []
        self.state = State.IDLE  # start_face begins from the start; the purpose stays
        return self.start_face(now)

    def repay(self, now: float, settlement_id: str | None = None) -> list[Effect]:
        """Pay everything owed (or one charge) through the provider's QR."""
        s = self.session
        statement = s.statement if s else None
        if self.state != State.OWED or s is None or statement is None \
                or not statement.can_repay or not statement.outstanding_fen:
            return []
        amount = statement.outstanding_fen
        if settlement_id is not None:
            chosen = next((c for c in statement.charges if c.settlement_id == settlement_id),
                          None)
            if chosen is None:
                return []
            amount = chosen.owed_fen
        s.repay_order = None
        s.poll_pending = False
        self._enter(State.REPAY_QR, now, self.cfg.settling_timeout_s, "repay.opening")
        return [OpenRepayOrder(s.id, statement.identity, statement.patient.patient_id, amount,
                               settlement_id, f"{s.id}-repay-{self.new_id()}"),
                Audit("repay.started", {"session": s.id, "amount_fen": amount})]

    def leave_repay(self, now: float) -> list[Effect]:
        """Back from the QR: the order is closed first (it may have been paid meanwhile)."""
        if self.state != State.REPAY_QR:
            return []
        return self._close(now, "owed.repay_cancelled")

    # ------------------------------------------------------ backend results
    def on_statement(self, now: float, session_id: str, statement: Statement) -> list[Effect]:
        s = self.session
        if not self._current(session_id) or self.state != State.LOOKING_UP or s is None:
            return []
        s.patient = statement.patient
        s.statement = statement
        self._enter(State.OWED, now, self.cfg.review_timeout_s,
                    "owed.list" if statement.charges else "owed.none")
        return [Audit("owed.shown", {"session": s.id, "charges": len(statement.charges),
                                     "outstanding_fen": statement.outstanding_fen})]

    def on_repay_opened(self, now: float, session_id: str, order: KioskRepayOrder) -> list[Effect]:
        s = self.session
        if not self._current(session_id) or self.state != State.REPAY_QR or s is None:
            return []
        s.repay_order = order
        s.next_poll_at = now + POLL_S
        self._enter(State.REPAY_QR, now, order.expires_in_s + CLOSE_GRACE_S, "repay.scan")
        return [Audit("repay.qr_shown", {"session": s.id, "order": order.order_id})]

    def on_repay_open_failed(self, now: float, session_id: str, code: ErrorCode
                             ) -> list[Effect]:
        """No QR (the provider or the platform did not answer): nothing was paid."""
        s = self.session
        if not self._current(session_id) or self.state != State.REPAY_QR or s is None:
            return []
        if code == ErrorCode.FAMILY_NOT_AUTHORISED and s.paying_for is not None:
            return [Audit("repay.not_opened", {"session": session_id, "code": code}),
                    *self.family_withdrawn(now)]
        self._enter(State.OWED, now, self.cfg.review_timeout_s, "owed.repay_unavailable")
        return [Audit("repay.not_opened", {"session": session_id, "code": code})]

    def on_repay_state(self, now: float, session_id: str, order: KioskRepayOrder) -> list[Effect]:
        s = self.session
        if not self._current(session_id) or s is None or s.repay_order is None \
                or self.state not in (State.REPAY_QR, State.REPAY_CLOSING):
            return []
        s.poll_pending = False
        s.next_poll_at = now + POLL_S
        if order.state == "open":
            if self.state == State.REPAY_CLOSING:  # closing did not take: not known
                return self._fallback(now, ErrorCode.REPAY_UNCONFIRMED)
            return []
        s.repay_order = order
        if order.state == "paid":
            self._enter(State.REPAID, now, self.cfg.result_display_s, "repay.paid")
            return [Audit("repay.paid", {"session": s.id, "order": order.order_id})]
        notice = (s.closing_notice if self.state == State.REPAY_CLOSING
                  else _ENDED_NOTICE.get(order.state, "owed.repay_failed"))
        self._enter(State.OWED, now, self.cfg.review_timeout_s, notice)
        return [Audit("repay.ended", {"session": s.id, "order": order.order_id,
                                      "state": order.state})]

    def on_repay_poll_failed(self, now: float, session_id: str) -> list[Effect]:
        """A poll that got no answer: ask again at the next interval."""
        s = self.session
        if self._current(session_id) and s is not None:
            s.poll_pending = False
            s.next_poll_at = now + POLL_S
        return []

    def on_repay_close_failed(self, now: float, session_id: str, code: ErrorCode
                              ) -> list[Effect]:
        """The QR may still have been paid: only a person can tell the patient."""
        if not self._current(session_id) or self.state != State.REPAY_CLOSING:
            return []
        return [Audit("repay.close_failed", {"session": session_id, "code": code}),
                *self._fallback(now, ErrorCode.REPAY_UNCONFIRMED)]

    # --------------------------------------------------------------- time
    def owed_tick(self, now: float) -> list[Effect] | None:
        """The 我的欠款 states' clock; None for the others (the checkout's own rules)."""
        s = self.session
        if self.state == State.REPAY_QR and s is not None and s.repay_order is not None:
            if now >= self.deadline:
                return self._close(now, "owed.repay_timeout")
            if not s.poll_pending and now >= s.next_poll_at:
                s.poll_pending = True
                return [PollRepayOrder(s.id, s.repay_order.order_id)]
            return []
        if self.state == State.REPAY_QR and now >= self.deadline:  # no QR came: none shown
            self._enter(State.OWED, now, self.cfg.review_timeout_s, "owed.repay_unavailable")
            return [Audit("repay.not_opened", {"session": s.id if s else None,
                                               "code": "timeout"})]
        if self.state == State.REPAY_CLOSING and now >= self.deadline:
            return self._fallback(now, ErrorCode.REPAY_UNCONFIRMED)
        return None

    def _close(self, now: float, notice: str) -> list[Effect]:
        s = self.session
        assert s is not None and s.repay_order is not None
        s.closing_notice = notice
        self._enter(State.REPAY_CLOSING, now, self.cfg.settling_timeout_s, "repay.closing")
        return [CloseRepayOrder(s.id, s.repay_order.order_id)]
