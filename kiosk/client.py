"""The kiosk's client for the platform: RFC 9421-signed requests with the device key, every
response verified against the pinned server key, typed results, stable error codes.

Transport retries come from urllib3's ``Retry`` (connect failures, and reads/5xx only for
GET); money-moving POSTs are never retried here: the durable outbox re-sends them with the
same Idempotency-Key, which is what makes a retry safe.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote as urlquote

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from kiosk.backend import BackendError, GalleryPage
from kiosk.flow.model import BillLine, Method, PatientView, Quote
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.signing import IDEMPOTENCY_HEADER, DeviceSigner, ResponseVerifier
from kiosk.recognition.template import Template

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

LAYER_NAMES = ("basic_pool", "critical_illness", "medical_aid", "self_pay")


def _session(retries: int) -> requests.Session:
    session = requests.Session()
    retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                  status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET"}),
                  backoff_factor=0.2, raise_on_status=False, respect_retry_after_header=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


class PlatformClient:
    def __init__(self, base_url: str, device_id: str, device_key: Ed25519PrivateKey,
                 server_key: Ed25519PublicKey, *, pack: str = "",
                 connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0,
                 retries: int = 2, clock: Callable[[], float] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.device_id = device_id
        self.device_key = device_key
        self.server_key = server_key
        self.pack = pack
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.signer = (DeviceSigner(device_id, device_key, clock) if clock
                       else DeviceSigner(device_id, device_key))
        self.verifier = ResponseVerifier(server_key)
        self.http = _session(retries)

    # ------------------------------------------------------------ transport
    def request(self, method: str, path: str, body: BaseModel | None = None, *,
                params: dict[str, Any] | None = None, idempotency_key: str | None = None,
                model: type[M] | None = None) -> Any:
        data = body.model_dump_json().encode() if body is not None else b""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        try:
            resp = self.http.request(method, self.base_url + path, data=data or None,
                                     params=params, headers=headers, auth=self.signer,
                                     timeout=self.timeout)
        except requests.Timeout as exc:
            raise BackendError("backend.timeout", f"{method} {path}: timed out",
                               retryable=True) from exc
        except requests.RequestException as exc:
            raise BackendError("backend.unreachable", f"{method} {path}: {type(exc).__name__}",
                               retryable=True) from exc
        try:
            self.verifier.verify(resp)
        except ProtocolError as exc:
            # Unknown whether the platform acted: a retry with the same key will tell.
            raise BackendError(exc.code, f"{method} {path}: {exc.message}", retryable=True,
                               status=resp.status_code) from exc
        if resp.status_code >= 400:
            raise _error(resp, method, path)
        if model is None:
            return resp
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise BackendError("backend.bad_response", f"{method} {path}: unexpected body",
                               retryable=False, status=resp.status_code) from exc

    # -------------------------------------------------------------- kiosk
    def lookup(self, method: Method, key: str) -> tuple[PatientView, Quote | None]:
        if method == Method.CARD:
            patient_id = self.identify_card(key).patient.patient_id
        elif method == Method.VOUCHER:
            patient_id = self.identify_voucher(key).patient.patient_id
        else:
            patient_id = key
        pending = self.request("GET", f"/v1/patients/{urlquote(patient_id, safe='')}/bills",
                               model=schemas.PendingBills)
        p = pending.patient
        view = PatientView(p.patient_id, p.name, p.national_id, p.category.value)
        if not pending.bills:
            return view, None
        quotes = [self.quote(b.bill_id, p.patient_id, schemas.PaymentMethod(method.value))
                  for b in pending.bills]
        refused = next((q.refusal for q in quotes if not q.payable and q.refusal), None)
        if refused is not None:
            raise BackendError(refused.code, refused.message, retryable=False)
        return view, aggregate_quote(pending, quotes)

    def identify_card(self, card_no: str) -> schemas.PatientView:
        return self.request("POST", "/v1/identify/card",
                            schemas.CardLookupRequest(card_no=card_no), model=schemas.PatientView)

    def identify_voucher(self, payload: str) -> schemas.PatientView:
        return self.request("POST", "/v1/identify/voucher",
                            schemas.VoucherLookupRequest(payload=payload),
                            model=schemas.PatientView)

    def quote(self, bill_id: str, patient_id: str, method: schemas.PaymentMethod
              ) -> schemas.Quote:
        return self.request("POST", "/v1/quotes", schemas.QuoteRequest(
            bill_id=bill_id, patient_id=patient_id, method=method), model=schemas.Quote)

    def narrow(self, last4: str, candidates: list[str] | None) -> list[str]:
        return self.request("POST", "/v1/second-factor/narrow",
                            schemas.NarrowRequest(last4=last4, candidates=candidates),
                            model=schemas.NarrowResponse).patient_ids

    def verify_digits(self, session_id: str, patient_id: str, last4: str) -> tuple[bool, int]:
        r = self.request("POST", "/v1/second-factor/verify", schemas.SecondFactorVerifyRequest(
            session_id=session_id, patient_id=patient_id, last4=last4),
            model=schemas.SecondFactorVerifyResponse)
        return r.verified, r.attempts_left

    def settle(self, idempotency_key: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = schemas.SettleRequest.model_validate(payload)
        s = self.request("POST", "/v1/settlements", body, idempotency_key=idempotency_key,
                         model=schemas.Settlement)
        return json.loads(s.model_dump_json())

    def sync_gallery(self, cursor: int) -> GalleryPage:
        page = self.request("GET", "/v1/gallery", params={"pack": self.pack, "cursor": cursor},
                            model=schemas.GallerySync)
        upserts = [(e.patient_id, Template.from_dict(e.template.model_dump()))
                   for e in page.upserts]
        return GalleryPage(page.cursor, page.more, upserts, list(page.deletions))

    def handoff(self, session_id: str, reason: str) -> schemas.Handoff:
        """Tell the site's counters this session needs the cashier (safe to resend)."""
        return self.request("POST", "/v1/handoffs",
                            schemas.HandoffRequest(session_id=session_id, reason=reason),
                            model=schemas.Handoff)

    def heartbeat(self, report: schemas.HeartbeatRequest) -> schemas.HeartbeatResponse:
        """This device's health, for the platform's fleet view (kiosks and counters)."""
        return self.request("POST", "/v1/heartbeat", report, model=schemas.HeartbeatResponse)

    # ------------------------------------------------------ counter (cashier)
    def handoffs(self, *, open_only: bool = True, date: str | None = None
                 ) -> schemas.HandoffList:
        params = {"open": "true" if open_only else "false", **({"date": date} if date else {})}
        return self.request("GET", "/v1/handoffs", params=params, model=schemas.HandoffList)

    def take_handoff(self, handoff_id: str) -> schemas.Handoff:
        return self.request("POST", f"/v1/handoffs/{urlquote(handoff_id, safe='')}/take",
                            model=schemas.Handoff)

    def patient(self, patient_id: str) -> schemas.PatientView:
        return self.request("GET", f"/v1/patients/{urlquote(patient_id, safe='')}",
                            model=schemas.PatientView)

    def pending_bills(self, patient_id: str) -> schemas.PendingBills:
        return self.request("GET", f"/v1/patients/{urlquote(patient_id, safe='')}/bills",
                            model=schemas.PendingBills)

    def settlement(self, settlement_id: str) -> schemas.Settlement:
        return self.request("GET", f"/v1/settlements/{urlquote(settlement_id, safe='')}",
                            model=schemas.Settlement)

    def settlements_today(self, date: str | None = None) -> schemas.SettlementList:
        return self.request("GET", "/v1/settlements", params={"date": date} if date else None,
                            model=schemas.SettlementList)

    def reverse(self, settlement_id: str, reason: str, idempotency_key: str
                ) -> schemas.Settlement:
        return self.request("POST", f"/v1/settlements/{urlquote(settlement_id, safe='')}/reverse",
                            schemas.ReverseRequest(reason=reason),
                            idempotency_key=idempotency_key, model=schemas.Settlement)

    def reconciliation(self, date: str) -> schemas.Reconciliation:
        return self.request("GET", f"/v1/reconciliation/{date}", model=schemas.Reconciliation)

    def reconciliation_csv(self, date: str) -> str:
        return self.request("GET", f"/v1/reconciliation/{date}",
                            params={"format": "csv"}).text

    def enrol(self, patient_id: str, template: Template, consent_version: str,
              consented_at: Any) -> schemas.EnrolTemplateResponse:
        body = schemas.EnrolTemplateRequest(
            template=schemas.TemplatePayload(**template.to_dict()),
            consent=schemas.Consent(text_version=consent_version, consented_at=consented_at))
        return self.request("POST", f"/v1/patients/{urlquote(patient_id, safe='')}/templates",
                            body, model=schemas.EnrolTemplateResponse)

    def withdraw_consent(self, patient_id: str, reason: str | None = None
                         ) -> schemas.WithdrawConsentResponse:
        return self.request(
            "POST", f"/v1/patients/{urlquote(patient_id, safe='')}/consent/withdraw",
            schemas.WithdrawConsentRequest(reason=reason),
            model=schemas.WithdrawConsentResponse)


def _error(resp: requests.Response, method: str, path: str) -> BackendError:
    try:
        detail = schemas.ErrorBody.model_validate_json(resp.content).error
        code, message = detail.code, detail.message
    except ValidationError:
        code, message = "backend.bad_response", resp.text[:200]
    retryable = resp.status_code >= 500 or code == "idempotency.in_flight"
    return BackendError(code, f"{method} {path}: {message}", retryable=retryable,
                        status=resp.status_code)


def aggregate_quote(pending: schemas.PendingBills, quotes: list[schemas.Quote]) -> Quote:
    """All of a patient's pending bills at this site as one quote the patient confirms once."""
    lines = tuple(BillLine(i.description, i.kind.value, i.amount_fen)
                  for b in pending.bills for i in b.items)
    layers = tuple((name, sum(getattr(q.layers, f"{name}_fen") for q in quotes))
                   for name in LAYER_NAMES)
    return Quote(
        quote_id="+".join(q.bill_id for q in quotes),
        bill_ids=tuple(q.bill_id for q in quotes),
        lines=lines,
        total_fen=sum(q.total_fen for q in quotes),
        layers=layers,
        self_pay_fen=sum(q.charge_to_credit_fen + q.pay_at_counter_fen for q in quotes),
        credit_available_fen=pending.credit.available_fen,
        bill_self_pay=tuple((q.bill_id, q.layers.self_pay_fen) for q in quotes),
    )
