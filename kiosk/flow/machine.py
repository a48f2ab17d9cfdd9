"""The checkout state machine.

idle → searching → liveness → [second_factor] → looking_up → bill_review → settling → done,
or → fallback (to the cashier / another payment method) with a stable reason code. Every state
has a deadline; personal data lives only in ``self.session`` and is dropped on every reset.
All methods take ``now`` (monotonic seconds) so tests control time exactly.

Face recognition starts only when the patient chooses face pay (PIPL: their own action
before their biometrics are processed); a face at the idle screen only wakes it to greet.
A non-match or a failed head turn gets ``face_retries`` more tries before the hand-off, and
every fallback offers ways forward that work (``kiosk.flow.ways``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from common.errors import ErrorCode
from kiosk.config import FlowConfig
from kiosk.flow.effects import (
    Audit,
    CheckDigits,
    Effect,
    LookupCredit,
    LookupPatient,
    NotifyCashier,
    PrintReceipt,
    Settle,
)
from kiosk.flow.family import FamilyFlow, FamilyMember
from kiosk.flow.model import (
    MONEY_STATES,
    PERSONAL_STATES,
    WAITING_STATES,
    KioskPatient,
    KioskQuote,
    SettlementIntent,
    SettlementResult,
    State,
)
from kiosk.flow.owed import KioskRepayOrder, OwedFlow, Purpose, Statement
from kiosk.flow.ways import LIVENESS_FAILED, Way, calls_cashier, ways_forward
from kiosk.liveness.result import LivenessInputError, LivenessResult
from kiosk.protocol.schemas import PaymentMethod
from kiosk.recognition.detection import Detection
from kiosk.recognition.gallery import Decision
from kiosk.recognition.template import Template

GREET_S = 3.0  # idle: the greeting stays this long after the last face in view


@dataclass(frozen=True)
class FrameObservation:
    """What the recognition worker learned from one camera frame."""

    timestamp: float
    face: Detection | None
    reasons: tuple[str, ...]  # quality-gate reasons; empty means usable
    template: Template | None = None
    decision: Decision | None = None
    frame: Any = None  # the BGR frame, for liveness cues; never stored


class LivenessFeed(Protocol):
    """What the flow needs of a liveness check (``kiosk.liveness.LivenessCheck`` is one)."""

    def feed(self, timestamp_s: float, detection: Detection | None, frame_bgr: Any = None,
             template: Template | None = None) -> LivenessResult: ...


@dataclass
class Session:
    """Everything about the patient at the kiosk now; replaced wholesale on reset."""

    id: str
    started_at: float
    method: PaymentMethod = PaymentMethod.FACE
    decision: Decision | None = None
    no_match_frames: int = 0
    face_tries: int = 0  # retries of the face used so far
    liveness: LivenessFeed | None = None
    second_factor_reason: str = ""
    second_factor_passed: bool = False
    attempts_left: int = 0
    digits_pending: bool = False
    patient: KioskPatient | None = None
    quote: KioskQuote | None = None
    intent: SettlementIntent | None = None
    result: SettlementResult | None = None
    statement: Statement | None = None  # 我的欠款 (kiosk/flow/owed.py)
    repay_order: KioskRepayOrder | None = None
    poll_pending: bool = False
    next_poll_at: float = 0.0
    closing_notice: str = ""
    own: Statement | None = None  # 亲情付: the relative's own statement, while paying for family
    paying_for: FamilyMember | None = None  # whose statement is shown and repaid


@dataclass(frozen=True)
class FlowView:
    """What the screen shows now. Holds no more personal data than the screen itself."""

    state: State
    guidance: str
    reason: ErrorCode | None = None  # why the session could not finish
    patient: KioskPatient | None = None
    quote: KioskQuote | None = None
    result: SettlementResult | None = None
    attempts_left: int = 0
    method: PaymentMethod | None = None
    face_available: bool = True
    liveness_off: bool = False
    seconds_left: float = 0.0  # 0 while money moves or a look-up runs: no countdown then
    ways: tuple[Way, ...] = ()  # fallback: what the patient can do next
    cashier_called: bool = False  # a hand-off is on the counter's queue for this patient
    statement: Statement | None = None  # 我的欠款: what the patient owes
    repay_order: KioskRepayOrder | None = None  # the payment QR being shown, or its end
    family: tuple[FamilyMember, ...] = ()  # 亲情付: the list (family) or the offer (own owed)
    paying_for: KioskPatient | None = None  # 亲情付: whose debt is shown and repaid


class CheckoutFlow(OwedFlow, FamilyFlow):
    def __init__(
        self,
        cfg: FlowConfig,
        *,
        liveness_factory: Callable[[], LivenessFeed] | None = None,
        gallery_size: Callable[[], int] = lambda: 0,
        new_id: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self.cfg = cfg
        self.liveness_factory = liveness_factory
        self.gallery_size = gallery_size
        self.new_id = new_id
        self.state = State.IDLE
        self.session: Session | None = None
        self.guidance = "idle.welcome"
        self.reason: ErrorCode | None = None
        self.deadline = float("inf")
        self.last_activity = 0.0
        self.face_available = True
        self.elderly = False
        self.cashier_called = False
        self.face_seen_at = float("-inf")  # idle: a face in view wakes the screen to greet
        self.purpose = Purpose.CHECKOUT  # or 我的欠款: what identifying the patient is for

    # ---------------------------------------------------------------- view
    def view(self, now: float) -> FlowView:
        s = self.session
        return FlowView(
            state=self.state,
            guidance=self.guidance,
            reason=self.reason,
            patient=s.patient if s else None,
            quote=s.quote if s else None,
            result=s.result if s else None,
            attempts_left=s.attempts_left if s else 0,
            method=s.method if s else None,
            face_available=self.face_available,
            liveness_off=self.liveness_factory is None,
            seconds_left=(max(0.0, self.deadline - now)
                          if self.deadline != float("inf") and self.state not in WAITING_STATES
                          else 0.0),
            ways=self.ways(),
            cashier_called=self.cashier_called,
            statement=s.statement if s else None,
            repay_order=s.repay_order if s else None,
            family=self._family(),
            paying_for=s.paying_for.patient if s and s.paying_for else None,
        )

    def _family(self) -> tuple[FamilyMember, ...]:
        """The list on the family screen; on one's own statement, what 为家人还款 offers."""
        s = self.session
        if s is None or s.paying_for is not None:
            return ()
        if self.state == State.FAMILY and s.own is not None:
            return s.own.family
        if self.state == State.OWED and s.statement is not None:
            return s.statement.family
        return ()

    def ways(self) -> tuple[Way, ...]:
        if self.state != State.FALLBACK:
            return ()
        method = self.session.method if self.session else None
        return ways_forward(self.reason, face_available=self.face_available, method=method)

    # ------------------------------------------------------------ settings
    def set_elderly(self, on: bool) -> None:
        """Elderly mode: every deadline from now on is longer by ``elderly_time_factor``."""
        self.elderly = on

    def camera_status(self, now: float, ok: bool) -> list[Effect]:
        self.face_available = ok
        if not ok and self.state in (State.SEARCHING, State.LIVENESS):
            return self._fallback(now, ErrorCode.FACE_CAMERA_FAILED)
        return []

    # ------------------------------------------------------------ commands
    def start_face(self, now: float) -> list[Effect]:
        """The patient chose face pay (at the start, or to try again after a failure)."""
        if not self.face_available or not (
                self.state == State.IDLE
                or (self.state == State.FALLBACK and Way.FACE_AGAIN in self.ways())):
            return []
        self._new_session(now, PaymentMethod.FACE)
        self._enter(State.SEARCHING, now, self.cfg.searching_timeout_s, "searching.look_at_screen")
        return [Audit("session.started", {"session": self.session.id, "method": "face"})]

    def card_read(self, now: float, card_no: str) -> list[Effect]:
        return self._start_lookup(now, PaymentMethod.CARD, card_no)

    def voucher_scanned(self, now: float, payload: str) -> list[Effect]:
        return self._start_lookup(now, PaymentMethod.VOUCHER, payload)

    def enter_digits(self, now: float, digits: str) -> list[Effect]:
        s = self.session
        if self.state != State.SECOND_FACTOR or s is None or s.digits_pending:
            return []
        self.last_activity = now
        if len(digits) != 4 or not digits.isdigit():
            self.guidance = "second_factor.need_four_digits"
            return []
        s.digits_pending = True
        self.guidance = "second_factor.checking"
        if s.patient is not None:  # already identified (card, e-voucher, or a large amount)
            candidates: tuple[str, ...] = (s.patient.patient_id,)
        elif self.gallery_size() > self.cfg.second_factor_gallery_size:
            candidates = ()  # narrow the whole gallery by the digits, then the face decides
        else:
            candidates = tuple(c.person_id for c in s.decision.candidates) if s.decision else ()
        return [CheckDigits(s.id, candidates, digits)]

    def confirm(self, now: float) -> list[Effect]:
        s = self.session
        if self.state != State.BILL_REVIEW or s is None or s.quote is None or s.patient is None:
            return []
        self.last_activity = now
        q = s.quote
        s.intent = SettlementIntent(
            idempotency_key=f"{s.id}-{self.new_id()}",
            session_id=s.id,
            patient_id=s.patient.patient_id,
            quote_id=q.quote_id,
            bill_ids=q.bill_ids,
            self_pay_fen=q.self_pay_fen,
            total_fen=q.total_fen,
            method=s.method,
            bill_self_pay=q.bill_self_pay,
        )
        self._enter(State.SETTLING, now, self.cfg.settling_timeout_s, "settling.please_wait")
        return [Settle(s.intent),
                Audit("settlement.confirmed", {"session": s.id, "self_pay_fen": q.self_pay_fen,
                                               "method": s.method.value})]

    def cancel(self, now: float) -> list[Effect]:
        if self.state in (State.IDLE, State.SETTLING, State.REPAY_CLOSING):
            return []  # a settlement in flight cannot be abandoned; it resolves by itself
        if self.state == State.REPAY_QR and self.session and self.session.repay_order:
            return self.leave_repay(now)
        return self._reset(now, ErrorCode.PATIENT_CANCELLED)

    def call_cashier(self, now: float) -> list[Effect]:
        """Always works: staff are called to this kiosk. Money in flight and a finished
        payment stay on screen; anything else gives way to the "staff are coming" screen."""
        self.last_activity = now
        if self.state in (State.SETTLING, State.DONE, State.FALLBACK, State.REPAY_QR,
                          State.REPAY_CLOSING, State.REPAID):
            if self.cashier_called:
                self.guidance = "fallback.staff_coming"
                return []
            session_id = self.session.id if self.session else self.new_id()
            self.cashier_called = True
            if self.state == State.FALLBACK:
                self.guidance = "fallback.staff_coming"
            return [NotifyCashier(session_id, ErrorCode.PATIENT_REQUESTED_CASHIER,
                                  *self._at_stake()),
                    Audit("session.cashier_called", {"session": session_id,
                                                     "state": self.state.value})]
        if self.session is None:
            self._new_session(now, PaymentMethod.FACE)
        return self._fallback(now, ErrorCode.PATIENT_REQUESTED_CASHIER)

    # ------------------------------------------------------------- frames
    def on_frame(self, obs: FrameObservation) -> list[Effect]:
        now = obs.timestamp
        if obs.face is not None:
            self.last_activity = now
        if self.state == State.IDLE:
            if obs.face is not None:  # wake and greet; never identify without a choice
                self.face_seen_at = now
                self.guidance = "idle.greet"
            return []
        if self.state == State.SEARCHING:
            return self._searching(obs)
        if self.state == State.LIVENESS:
            return self._liveness(obs)
        return []

    def _searching(self, obs: FrameObservation) -> list[Effect]:
        s = self.session
        assert s is not None
        if obs.reasons:
            self.guidance = f"quality.{obs.reasons[0]}"
            return []
        decision = obs.decision
        if decision is None:
            self.guidance = "searching.hold_still"
            return []
        if decision.outcome == "no_match":
            s.no_match_frames += 1
            self.guidance = "searching.hold_still"
            if s.no_match_frames >= self.cfg.no_match_frames:
                return self._try_again(obs.timestamp, ErrorCode.FACE_NOT_RECOGNISED)
            return []
        s.decision = decision
        effects: list[Effect] = [Audit("face.identified", {
            "session": s.id, "outcome": decision.outcome,
            "score": round(decision.best.score, 3) if decision.best else None})]
        if self.liveness_factory is None:
            return effects + self._after_face(obs.timestamp)
        s.liveness = self.liveness_factory()
        self._enter(State.LIVENESS, obs.timestamp, self.cfg.searching_timeout_s,
                    "liveness.look_straight")
        return effects + self._liveness(obs)

    def _liveness(self, obs: FrameObservation) -> list[Effect]:
        s = self.session
        assert s is not None and s.liveness is not None
        try:
            verdict = s.liveness.feed(obs.timestamp, obs.face, obs.frame, obs.template)
        except LivenessInputError:
            return []  # e.g. a frame older than the last: skip it, the check is unchanged
        audit = Audit("liveness." + verdict.status, {"session": s.id, "reason": verdict.reason,
                                                     **verdict.evidence})
        if verdict.status == "passed":
            return [audit, *self._after_face(obs.timestamp)]
        if verdict.status == "failed":
            reason = verdict.reason or ErrorCode.LIVENESS_FAILED
            return [audit, *self._try_again(obs.timestamp, reason)]
        if verdict.guidance:
            self.guidance = verdict.guidance
        return []

    def _try_again(self, now: float, reason: ErrorCode) -> list[Effect]:
        """The face did not work this time: look again (``face_retries`` times) with a hint
        of what to change, then the fallback."""
        s = self.session
        assert s is not None
        if s.face_tries >= self.cfg.face_retries:
            return self._fallback(now, reason)
        s.face_tries += 1
        s.no_match_frames, s.decision, s.liveness = 0, None, None
        hint = "liveness.try_again" if reason in LIVENESS_FAILED else "searching.try_again"
        self._enter(State.SEARCHING, now, self.cfg.searching_timeout_s, hint)
        return [Audit("face.retry", {"session": s.id, "reason": reason, "try": s.face_tries})]

    def _after_face(self, now: float) -> list[Effect]:
        s = self.session
        assert s is not None and s.decision is not None and s.decision.best is not None
        if s.decision.outcome == "uncertain":
            return self._ask_digits(now, "second_factor.uncertain_match")
        if self.gallery_size() > self.cfg.second_factor_gallery_size:
            return self._ask_digits(now, "second_factor.large_gallery")
        return self._lookup(now, PaymentMethod.FACE, s.decision.best.person_id)

    def _ask_digits(self, now: float, reason: str) -> list[Effect]:
        s = self.session
        assert s is not None
        s.second_factor_reason = reason
        s.attempts_left = self.cfg.second_factor_attempts
        s.digits_pending = False
        self._enter(State.SECOND_FACTOR, now, self.cfg.second_factor_timeout_s,
                    "second_factor.enter_phone_digits")
        return [Audit("second_factor.asked", {"session": s.id, "reason": reason})]

    # ----------------------------------------------------- backend results
    def on_digits(self, now: float, session_id: str, patient_id: str | None,
                  attempts_left: int | None = None) -> list[Effect]:
        s = self.session
        if not self._current(session_id) or self.state != State.SECOND_FACTOR or s is None:
            return []
        s.digits_pending = False
        if patient_id is not None:
            s.second_factor_passed = True
            if s.patient is not None and s.quote is not None:  # asked for a large amount
                self._enter(State.BILL_REVIEW, now, self.cfg.review_timeout_s,
                            "review.check_and_confirm")
                return [Audit("second_factor.passed", {"session": s.id})]
            return [Audit("second_factor.passed", {"session": s.id}),
                    *self._lookup(now, s.method, patient_id)]
        s.attempts_left = (attempts_left if attempts_left is not None
                           else s.attempts_left - 1)
        if s.attempts_left <= 0:
            return self._fallback(now, ErrorCode.SECOND_FACTOR_LOCKED)
        self.guidance = "second_factor.wrong_digits"
        return [Audit("second_factor.wrong", {"session": s.id, "left": s.attempts_left})]

    def on_lookup(self, now: float, session_id: str, patient: KioskPatient,
                  quote: KioskQuote | None) -> list[Effect]:
        s = self.session
        if not self._current(session_id) or self.state != State.LOOKING_UP or s is None:
            return []
        s.patient = patient
        s.quote = quote
        if quote is None or not quote.bill_ids:
            return self._fallback(now, ErrorCode.BILL_NONE_PENDING)
        if not quote.within_credit:
            return self._fallback(now, ErrorCode.CREDIT_LIMIT_EXCEEDED)
        if (quote.self_pay_fen >= self.cfg.second_factor_amount_fen
                and not s.second_factor_passed):
            return self._ask_digits(now, "second_factor.large_amount")
        self._enter(State.BILL_REVIEW, now, self.cfg.review_timeout_s, "review.check_and_confirm")
        return [Audit("bill.shown", {"session": s.id, "total_fen": quote.total_fen,
                                     "self_pay_fen": quote.self_pay_fen})]

    def on_lookup_failed(self, now: float, session_id: str, code: ErrorCode) -> list[Effect]:
        if not self._current(session_id) or self.state != State.LOOKING_UP:
            return []
        return self._fallback(now, code)

    def on_settled(self, now: float, session_id: str, result: SettlementResult) -> list[Effect]:
        s = self.session
        if not self._current(session_id) or self.state != State.SETTLING or s is None:
            return []
        s.result = result
        self._enter(State.DONE, now, self.cfg.result_display_s, {
            "queued": "done.queued", "partial": "done.partial"}.get(result.status, "done.paid"))
        effects: list[Effect] = [
            PrintReceipt(s.id, result.receipt),
            Audit("settlement." + result.status, {"session": s.id,
                                                  "settlement": result.settlement_id})]
        if result.status == "partial":  # the receipt shows what was paid; the rest is theirs
            effects.append(NotifyCashier(s.id, ErrorCode.SETTLEMENT_PARTIAL, *self._at_stake()))
            effects.append(Audit("session.fallback", {
                "session": s.id, "reason": ErrorCode.SETTLEMENT_PARTIAL, "refusal": result.refusal,
                "unpaid_bills": len(result.unpaid_bill_ids)}))
        return effects

    def on_settle_failed(self, now: float, session_id: str, code: ErrorCode) -> list[Effect]:
        if not self._current(session_id) or self.state != State.SETTLING:
            return []
        return self._fallback(now, code)

    # --------------------------------------------------------------- time
    def tick(self, now: float) -> list[Effect]:
        if self.state == State.IDLE:
            if self.guidance == "idle.greet" and now - self.face_seen_at > GREET_S:
                self.guidance = "idle.welcome"
            return []
        if (self.state in PERSONAL_STATES and self.state not in MONEY_STATES
                and now - self.last_activity > self._scaled(self.cfg.personal_data_ttl_s)):
            return self._reset(now, ErrorCode.SESSION_ABANDONED)
        owed = self.owed_tick(now)
        if owed is not None:
            return owed
        if now < self.deadline:
            return []
        expired = {
            State.SEARCHING: ErrorCode.FACE_TIMEOUT,
            State.LIVENESS: ErrorCode.LIVENESS_TIMEOUT,
            State.SECOND_FACTOR: ErrorCode.SECOND_FACTOR_TIMEOUT,
            State.LOOKING_UP: ErrorCode.BACKEND_UNREACHABLE,
            State.SETTLING: ErrorCode.SETTLEMENT_UNCONFIRMED,
        }
        if self.state in expired:
            return self._fallback(now, expired[self.state])
        if self.state in (State.BILL_REVIEW, State.OWED, State.OWED_IDENTIFY, State.FAMILY):
            return self._reset(now, ErrorCode.REVIEW_TIMEOUT)
        return self._reset(now, ErrorCode.SESSION_FINISHED)  # done / fallback screens time out

    # ------------------------------------------------------------ helpers
    def _start_lookup(self, now: float, method: PaymentMethod, key: str) -> list[Effect]:
        if self.state in (State.SETTLING, State.DONE, State.LOOKING_UP, State.BILL_REVIEW,
                          State.OWED, State.REPAY_QR, State.REPAY_CLOSING, State.REPAID,
                          State.FAMILY):
            return []
        if self.state == State.FALLBACK and Way(method.value) not in self.ways():
            return []  # e.g. a payment not yet confirmed: paying again is wrong
        if not key:
            return []
        self._new_session(now, method)
        return [Audit("session.started", {"session": self.session.id, "method": method.value}),
                *self._lookup(now, method, key)]

    def _lookup(self, now: float, method: PaymentMethod, key: str) -> list[Effect]:
        s = self.session
        assert s is not None
        s.method = method
        self._enter(State.LOOKING_UP, now, self.cfg.settling_timeout_s, "lookup.please_wait")
        if self.purpose == Purpose.OWED:
            return [LookupCredit(s.id, method, key)]
        return [LookupPatient(s.id, method, key)]

    def _at_stake(self) -> tuple[str | None, int | None]:
        """Who the patient is and the self-pay, when the kiosk knows: for the counter."""
        s = self.session
        if s is None or s.patient is None:
            return None, None
        return s.patient.patient_id, s.quote.self_pay_fen if s.quote else None

    def _fallback(self, now: float, reason: ErrorCode) -> list[Effect]:
        stake = self._at_stake()  # taken before the screen forgets the patient
        session_id = self.session.id if self.session else self.new_id()
        if self.session is not None:  # the cashier screen must not show the patient's data
            self.session = Session(id=session_id, started_at=self.session.started_at,
                                   method=self.session.method)
        self.reason = reason
        audit = Audit("session.fallback", {"session": session_id, "reason": reason})
        if not calls_cashier(reason):  # information, not a failure: nobody is called
            self._enter(State.FALLBACK, now, self.cfg.fallback_display_s, "fallback.notice")
            return [audit]
        self.cashier_called = True
        self._enter(State.FALLBACK, now, self.cfg.fallback_display_s, "fallback.staff_coming")
        return [NotifyCashier(session_id, reason, *stake), audit]

    def _reset(self, now: float, reason: ErrorCode) -> list[Effect]:
        old = self.session.id if self.session else None
        self.session = None
        self.state = State.IDLE
        self.guidance = "idle.welcome"
        self.reason = None
        self.deadline = float("inf")
        self.cashier_called = False
        self.purpose = Purpose.CHECKOUT
        return [Audit("session.reset", {"session": old, "reason": reason})]

    def _new_session(self, now: float, method: PaymentMethod) -> None:
        self.session = Session(id=self.new_id(), started_at=now, method=method)
        self.last_activity = now
        self.reason = None
        self.cashier_called = False

    def _enter(self, state: State, now: float, timeout: float, guidance: str) -> None:
        self.state = state
        self.guidance = guidance
        self.deadline = now + self._scaled(timeout)
        self.last_activity = now

    def _scaled(self, seconds: float) -> float:
        return seconds * (self.cfg.elderly_time_factor if self.elderly else 1.0)

    def _current(self, session_id: str) -> bool:
        return self.session is not None and self.session.id == session_id
