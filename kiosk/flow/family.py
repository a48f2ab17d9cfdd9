"""亲情付 (family pay) at the kiosk: a relative pays what a patient who authorised them owes.

The relative identifies *as themselves* in 我的欠款 (face, card or e-voucher); their statement
carries the patients who authorised them (``Statement.family``, protocol §8.3). Then
owed (their own, with 为家人还款 (N)) → family (the list: masked name, relation, what each
owes) → looking_up (the chosen patient's statement, read with the token issued via the
relative) → owed (that statement, "为 陈* 还款") → repay_qr → repaid exactly as for one's own
debt: the repayment order carries the patient's token, so the platform records who paid.
Back from the patient's statement is the list; back from the list is one's own statement.
An authorisation withdrawn meanwhile (``family.not_authorised``, on reading the statement or
on opening the QR) takes that patient off the list with a notice; nothing was paid.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from common.errors import ErrorCode
from kiosk.flow.effects import Audit, Effect, LookupFamilyCredit
from kiosk.flow.model import KioskPatient, State

if TYPE_CHECKING:
    from kiosk.config import FlowConfig
    from kiosk.flow.machine import Session
    from kiosk.flow.owed import Statement

@dataclass(frozen=True)
class FamilyMember:
    """A patient who authorised the relative at the kiosk, as the list shows them."""

    patient: KioskPatient
    relation: str  # what the relative is to the patient (``schemas.Relation``)
    outstanding_fen: int
    identity: Any = field(default=None, repr=False, compare=False)  # the token to read and pay


class FamilyFlow:
    """The 亲情付 states of ``CheckoutFlow`` (which provides the helpers declared here)."""

    cfg: FlowConfig
    state: State
    session: Session | None
    if TYPE_CHECKING:
        def _enter(self, state: State, now: float, timeout: float, guidance: str) -> None: ...
        def _fallback(self, now: float, reason: ErrorCode) -> list[Effect]: ...
        def _current(self, session_id: str) -> bool: ...

    # ------------------------------------------------------------ commands
    def pay_for_family(self, now: float) -> list[Effect]:
        """为家人还款 on one's own statement: the patients who authorised this person."""
        s = self.session
        if self.state != State.OWED or s is None or s.statement is None \
                or s.paying_for is not None or not s.statement.family:
            return []
        s.own = s.statement
        self._enter(State.FAMILY, now, self.cfg.review_timeout_s, "family.choose")
        return [Audit("family.listed", {"session": s.id, "dependants": len(s.own.family)})]

    def choose_dependant(self, now: float, patient_id: str) -> list[Effect]:
        """One patient of the list: read what they owe with the token issued via the relative."""
        s = self.session
        if self.state != State.FAMILY or s is None or s.own is None:
            return []
        member = next((m for m in s.own.family if m.patient.patient_id == patient_id), None)
        if member is None:
            return []
        s.paying_for = member
        self._enter(State.LOOKING_UP, now, self.cfg.settling_timeout_s, "lookup.please_wait")
        return [LookupFamilyCredit(s.id, member.identity),
                Audit("family.chosen", {"session": s.id, "relation": member.relation})]

    def family_back(self, now: float) -> list[Effect]:
        """Back: from a patient's statement to the list, from the list to one's own."""
        s = self.session
        if s is None or s.own is None:
            return []
        if self.state == State.OWED and s.paying_for is not None:
            self._show_list(now, "family.choose")
            return []
        if self.state == State.FAMILY:
            own = s.own
            s.own, s.statement, s.patient = None, own, own.patient
            self._enter(State.OWED, now, self.cfg.review_timeout_s,
                        "owed.list" if own.charges else "owed.none")
        return []

    # ------------------------------------------------------ backend results
    def on_family_statement(self, now: float, session_id: str, statement: Statement
                            ) -> list[Effect]:
        s = self.session
        if not self._current(session_id) or self.state != State.LOOKING_UP or s is None \
                or s.paying_for is None:
            return []
        s.statement, s.patient = statement, statement.patient
        self._enter(State.OWED, now, self.cfg.review_timeout_s,
                    "family.owed" if statement.charges else "family.owed_none")
        return [Audit("family.owed_shown", {"session": s.id, "charges": len(statement.charges),
                                            "outstanding_fen": statement.outstanding_fen})]

    def on_family_failed(self, now: float, session_id: str, code: ErrorCode
                         ) -> list[Effect]:
        if not self._current(session_id) or self.state != State.LOOKING_UP:
            return []
        if code == ErrorCode.FAMILY_NOT_AUTHORISED:  # the authorisation is gone
            return self.family_withdrawn(now)
        return self._fallback(now, code)

    def family_withdrawn(self, now: float) -> list[Effect]:
        """The patient withdrew the authorisation meanwhile: off the list, with a notice."""
        s = self.session
        assert s is not None and s.own is not None and s.paying_for is not None
        gone = s.paying_for
        s.own = dataclasses.replace(s.own, family=tuple(
            m for m in s.own.family if m.patient.patient_id != gone.patient.patient_id))
        effects: list[Effect] = [Audit("family.not_authorised", {"session": s.id,
                                                                 "relation": gone.relation})]
        if s.own.family:
            self._show_list(now, "family.withdrawn")
            return effects
        own = s.own
        s.own, s.paying_for, s.statement, s.patient = None, None, own, own.patient
        self._enter(State.OWED, now, self.cfg.review_timeout_s, "family.withdrawn")
        return effects

    def _show_list(self, now: float, guidance: str) -> None:
        s = self.session
        assert s is not None and s.own is not None
        s.paying_for, s.statement, s.patient = None, s.own, s.own.patient
        s.repay_order = None
        self._enter(State.FAMILY, now, self.cfg.review_timeout_s, guidance)
