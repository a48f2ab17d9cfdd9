"""亲情付 (family pay) at the counter, free of Qt (docs/protocol.md §8.3).

The person at the desk is seen both ways at once: as a *patient*, who may authorise a
relative to pay for them (the relative found by card, e-voucher or patient id as the look-up
finds anyone, the consent text shown first and its version recorded) and later withdraw it;
and as a *relative*, who may pay for the patients who authorised them: settle a dependant's
bill on the dependant's credit, or repay the dependant's debt, the request naming them
(``paid_by``). The platform checks the authorisation at that moment: a withdrawn one is
``family.not_authorised`` and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.errors import ErrorCode
from kiosk.backend import BackendError
from kiosk.client import PlatformClient
from kiosk.counter.service import LookupBy
from kiosk.i18n import FAMILY_CONSENT_VERSION
from kiosk.protocol import schemas
from kiosk.protocol.schemas import Relation, RepaymentMethod

CONSENT_VERSION = FAMILY_CONSENT_VERSION
RELATIONS = tuple(Relation)
REPAY_METHODS = tuple(RepaymentMethod)


@dataclass(frozen=True)
class Payer:
    """The relative at the desk paying for a dependant, and what they are to the patient."""

    relative: schemas.MaskedPatient
    relation: Relation

    @property
    def patient_id(self) -> str:
        return self.relative.patient_id


@dataclass(frozen=True)
class Family:
    """One person's family pay, both ways: whom they authorised (standing and withdrawn,
    oldest first) and whom they may pay for (standing authorisations only)."""

    person_id: str
    relatives: list[schemas.RelativeAuthorisation]
    dependants: list[schemas.Dependant]


def standing(authorisation: schemas.RelativeAuthorisation) -> bool:
    return authorisation.withdrawn_at is None


def check_relative(patient_id: str, relative: schemas.PatientView) -> None:
    """Refuse, before the consent is shown, a relative who is the patient themselves (the
    platform refuses it too: the same code)."""
    if relative.patient.patient_id == patient_id:
        raise BackendError(ErrorCode.FAMILY_SELF, "a patient cannot be their own relative")


class FamilyService:
    """The platform calls behind the console's 亲情付 tab (each blocking: the console runs
    them on its worker). Failures are ``BackendError`` with the wire code."""

    def __init__(self, client: PlatformClient) -> None:
        self.client = client

    def find(self, by: LookupBy, key: str) -> schemas.PatientView:
        """A person, found by card, e-voucher payload or patient id (``patient.not_found``,
        ``card.not_found``, ``voucher.*`` otherwise)."""
        if by == LookupBy.CARD:
            return self.client.identify_card(key)
        if by == LookupBy.VOUCHER:
            return self.client.identify_voucher(key)
        return self.client.patient(key)

    def family(self, person_id: str) -> Family:
        return Family(person_id, self.client.relatives(person_id).relatives,
                      self.client.dependants(person_id).dependants)

    def authorise(self, patient_id: str, relative_id: str, relation: Relation,
                  consented_at: datetime) -> schemas.RelativeAuthorisation:
        """Recorded with ``CONSENT_VERSION``: the text the patient was shown."""
        return self.client.authorise_relative(patient_id, schemas.AuthoriseRelativeRequest(
            relative_id=relative_id, relation=relation, consent=schemas.Consent(
                text_version=CONSENT_VERSION, consented_at=consented_at)))

    def withdraw(self, patient_id: str, relative_id: str) -> schemas.RelativeAuthorisation:
        return self.client.withdraw_relative(patient_id, relative_id)

    def repay(self, request: schemas.RepayRequest, idempotency_key: str) -> schemas.Repayment:
        """The key is the console's, kept while the outcome is unknown (``ChargeGuard``)."""
        return self.client.repay(request, idempotency_key)
