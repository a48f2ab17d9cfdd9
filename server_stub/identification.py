"""Identification tokens: a kiosk sees a patient's bills and credit only after identifying them.

Face (the kiosk's own 1:N match, which the platform checks against the gallery it sent that
kiosk), insurance card or e-voucher identification answers with a token bound to that device
and that patient, valid ``security.identification_ttl_s``. A kiosk's look-ups of bills,
quotes and credit present it as the query parameter ``identification`` (covered by the
request signature through ``@query``); without a valid one the answer is the same ``403``
whether or not the patient exists, so a kiosk key cannot enumerate patients by id.

A relative the patient authorised (亲情付, server_stub/relatives.py), once identified
themselves, gets a token for the patient *via* them: the same look-ups, and every use
re-checks that the authorisation still stands, so withdrawing it ends it at once.

Stateless on purpose: an HMAC-SHA256 over device, patient and expiry, under a key derived
(HKDF) from the platform's data key, so every platform host that holds the key files checks
tokens without a database write on the identification path and without a new secret to
distribute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common.errors import ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from server_stub.clock import to_datetime

QUERY_PARAMETER = "identification"
_INFO = b"chs identification token v1"
_MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class IdentificationKeys:
    """Issues and checks the tokens; one per platform process."""

    key: bytes
    ttl_ms: int

    @classmethod
    def derive(cls, data_key_file: str | Path, ttl_s: int) -> IdentificationKeys:
        secret = Path(data_key_file).read_bytes()
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
        return cls(key, ttl_s * 1000)

    def _mac(self, device_id: str, patient_id: str, via: str, expires_ms: int) -> str:
        message = f"{device_id}\n{patient_id}\n{via}\n{expires_ms}".encode()
        return _b64(hmac.new(self.key, message, hashlib.sha256).digest()[:_MAC_BYTES])

    def issue(self, device_id: str, patient_id: str, now: int, *, via: str = ""
              ) -> schemas.Identification:
        """``via``: the relative acting for the patient, when it is not the patient."""
        expires_ms = now + self.ttl_ms
        mac = self._mac(device_id, patient_id, via, expires_ms)
        token = f"{expires_ms}.{via}.{mac}" if via else f"{expires_ms}.{mac}"
        return schemas.Identification(token=token, expires_at=to_datetime(expires_ms))

    def identify(self, device_id: str, view: schemas.PatientView, now: int
                 ) -> schemas.IdentifiedPatient:
        token = self.issue(device_id, view.patient.patient_id, now)
        return schemas.IdentifiedPatient(patient=view.patient, credit=view.credit,
                                         face_consent=view.face_consent, identification=token)

    def check(self, token: str | None, *, device_id: str, patient_id: str, now: int) -> str:
        """Refuse a missing, forged, other device's, other patient's or expired token;
        returns the relative it was issued via ("" when the patient identified themselves)."""
        if not token:
            raise ProtocolError(ErrorCode.IDENTIFICATION_REQUIRED,
                                "identify the patient at this device first (face, card or "
                                "e-voucher) and send the token as ?identification=")
        expires, _, rest = token.partition(".")
        via, _, mac = rest.rpartition(".")
        if not (expires.isdigit() and len(expires) <= 16 and len(via) <= 64 and mac.isascii()
                and hmac.compare_digest(mac, self._mac(device_id, patient_id, via,
                                                       int(expires)))):
            raise ProtocolError(ErrorCode.IDENTIFICATION_REQUIRED,
                                "this identification is not for this device and patient")
        if int(expires) <= now:
            raise ProtocolError(ErrorCode.IDENTIFICATION_EXPIRED,
                                "the identification has expired: identify the patient again")
        return via
