"""The kiosk's client for the platform: RFC 9421-signed requests with the device key, every
response verified against the pinned server key, typed results, stable error codes.

A request is never re-sent with the signature it was first sent with: the platform spends
each nonce once, so a library retry of the same bytes could only be refused. urllib3 retries
only a failed *connect* (nothing reached the platform); every other retry — GETs, and POSTs
with an Idempotency-Key, which are safe to send again — goes through tenacity here, signed
afresh each time. What a failure means is ``BackendError.outcome`` (``kiosk.settlement.
outcome``). The platform's clock, window and key retention are learned from its signed
answers (``PlatformClock``).

The platform may be several hosts sharing one database (``[server] url`` a list): requests go
to the host that answered last; one that cannot be connected to (nothing reached it) is
skipped for the next at once, and after any other transport failure the retry goes to the
next host. Sending to another host is as safe as sending again: the idempotency keys and
nonces live in the shared database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote as urlquote

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from common.errors import ErrorCode
from kiosk import transport
from kiosk.backend import BackendError, GalleryPage, SignedSettlement
from kiosk.flow.family import FamilyMember
from kiosk.flow.model import BillLine, KioskPatient, KioskQuote
from kiosk.flow.owed import KioskOwedCharge, KioskRepayOrder, Statement
from kiosk.platform_clock import PlatformClock
from kiosk.protocol import schemas
from kiosk.protocol.crypto_profile import PrivateKey, PublicKey
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.schemas import PaymentMethod
from kiosk.protocol.signing import (
    IDEMPOTENCY_HEADER,
    DeviceSigner,
    ResponseVerifier,
    SignedAnswer,
)
from kiosk.recognition.template import Template

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

LAYER_NAMES = ("basic_pool", "critical_illness", "medical_aid", "self_pay")
MIN_RETENTION_HOURS = 24  # the least the platform may keep keys: assumed until it says


def _session(connect_retries: int, tls_fingerprint: str = "") -> requests.Session:
    """``tls_fingerprint``: HTTPS only to that certificate (``kiosk.transport``)."""
    session = requests.Session()
    retry = Retry(total=None, connect=connect_retries, read=0, status=0, other=0, redirect=0,
                  allowed_methods=None, backoff_factor=0.2, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    if tls_fingerprint:
        transport.mount_pin(session, tls_fingerprint, max_retries=retry)
    return session


def _not_sent(exc: requests.RequestException) -> bool:
    """The connection itself failed: the request never reached that host."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = reason.reason if isinstance(reason, MaxRetryError) else reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _unknown(exc: BaseException) -> bool:
    return isinstance(exc, BackendError) and exc.retryable


def _clock_refused(exc: BaseException) -> bool:
    """Refused for the clock (the platform did nothing): any request may go again, now
    signed with the platform time that refusal taught us."""
    return isinstance(exc, BackendError) and exc.code == ErrorCode.CLOCK_SKEW


class PlatformClient:
    def __init__(self, base_url: str | Sequence[str], device_id: str,
                 device_key: PrivateKey,
                 server_key: PublicKey, *, pack: str = "",
                 connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0,
                 retries: int = 2, clock: PlatformClock | None = None,
                 tls_fingerprint: str = "") -> None:
        self.base_urls = [u.rstrip("/") for u in ([base_url] if isinstance(base_url, str)
                                                  else base_url)]
        if not self.base_urls:
            raise ValueError("no platform URL")
        for url in self.base_urls:
            transport.require_secure_url(url)
        self._active = 0  # the host that answered last
        self.tls_fingerprint = tls_fingerprint
        self.device_id = device_id
        self.device_key = device_key
        self.server_key = server_key
        self.pack = pack
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.retries = retries
        self.clock = clock or PlatformClock()
        self.signer = DeviceSigner(device_id, device_key, self.clock.now)
        self.verifier = ResponseVerifier(server_key, clock=self.clock.now)
        self.retention_hours = MIN_RETENTION_HOURS
        self.http = _session(retries, tls_fingerprint)
        self._reachable = True
        self._restored: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.base_urls[self._active]

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """To the active host; past the ones that cannot be connected to, each tried once
        (module docstring). Any other failure moves the next attempt to the next host."""
        failure: requests.RequestException | None = None
        for _ in range(len(self.base_urls)):
            url = self.base_url
            try:
                return self.http.request(method, url + path, **kwargs)
            except requests.exceptions.SSLError:
                raise  # a certificate that is not the pinned one is no host to fail over to
            except requests.RequestException as exc:
                if len(self.base_urls) == 1:
                    raise
                with self._lock:
                    if self.base_url == url:
                        self._active = (self._active + 1) % len(self.base_urls)
                log.warning("platform.failover", extra={"path": path, "to": self.base_url})
                if not _not_sent(exc):
                    raise
                failure = exc
        assert failure is not None
        raise failure

    def on_restored(self, callback: Callable[[], None]) -> None:
        """``callback()`` whenever the platform answers again after a transport failure."""
        self._restored.append(callback)

    # ------------------------------------------------------------ transport
    def request(self, method: str, path: str, body: BaseModel | None = None, *,
                params: dict[str, Any] | None = None, idempotency_key: str | None = None,
                model: type[M] | None = None, retry: bool | None = None) -> Any:
        """One call; ``retry`` (default: GETs and keyed POSTs; the read-only and idempotent
        POSTs say so) sends it again, freshly
        signed, up to ``retries`` more times while its outcome is unknown. Any request is
        sent again after a clock refusal, which changed nothing."""
        again = retry if retry is not None else (method == "GET" or idempotency_key is not None)
        retrying = Retrying(stop=stop_after_attempt(1 + self.retries),
                            wait=wait_exponential_jitter(multiplier=0.1, max=1.0, jitter=0.1),
                            retry=retry_if_exception(_unknown if again else _clock_refused),
                            reraise=True)
        return retrying(self._once, method, path, body, params, idempotency_key, model)

    def _once(self, method: str, path: str, body: BaseModel | None,
              params: dict[str, Any] | None, idempotency_key: str | None,
              model: type[M] | None) -> Any:
        data = body.model_dump_json().encode() if body is not None else b""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        sent = self.clock.local()
        try:
            resp = self._send(method, path, data=data or None, params=params,
                              headers=headers, auth=self.signer, timeout=self.timeout)
        except requests.Timeout as exc:
            self._reachable = False
            raise BackendError(ErrorCode.BACKEND_TIMEOUT, f"{method} {path}: timed out") from exc
        except requests.exceptions.SSLError as exc:
            self._reachable = False
            if not (self.tls_fingerprint and transport.pin_mismatch(exc)):
                raise BackendError(ErrorCode.BACKEND_UNREACHABLE,
                                   f"{method} {path}: TLS failed: {exc}") from exc
            refused = transport.mismatch_error(self.base_url, self.tls_fingerprint)
            log.error("platform.tls_pin_mismatch", extra={"path": path})
            raise BackendError(refused.code, f"{method} {path}: {refused.message}") from exc
        except requests.RequestException as exc:
            self._reachable = False
            raise BackendError(ErrorCode.BACKEND_UNREACHABLE,
                               f"{method} {path}: {type(exc).__name__}") from exc
        back = self.clock.local()
        try:
            try:
                created = self.verifier.verify(resp)
            except ProtocolError as exc:
                if "created" not in exc.details:
                    raise
                # authentic and bound to this request, only our clock is off: learn platform
                # time from it, then read the answer like any other
                self.clock.observe(exc.details["created"], sent, back)
                created = self.verifier.verify(resp)
        except ProtocolError as exc:
            raise BackendError(exc.code, f"{method} {path}: {exc.message}",
                               status=resp.status_code) from exc
        self.clock.observe(created, sent, back)
        self._answered()
        if resp.status_code >= 400:
            raise _error(resp, method, path)
        if model is None:
            return resp
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise BackendError(ErrorCode.BACKEND_BAD_RESPONSE, f"{method} {path}: unexpected body",
                               status=resp.status_code) from exc

    def _answered(self) -> None:
        with self._lock:
            restored, self._reachable = not self._reachable, True
        if restored:
            log.info("platform.restored")
            for callback in list(self._restored):
                try:
                    callback()
                except Exception:  # a listener's bug must not fail this request
                    log.exception("platform.restored_listener_failed")

    # -------------------------------------------------------------- kiosk
    def lookup(self, method: PaymentMethod, key: str) -> tuple[KioskPatient, KioskQuote | None]:
        identified = self.identify(method, key)
        token = identified.identification.token
        pending = self.pending_bills(identified.patient.patient_id, token)
        p = pending.patient
        view = _view(p)
        if not pending.bills:
            return view, None
        quotes = [self.quote(b.bill_id, p.patient_id, method,
                             token) for b in pending.bills]
        refused = next((q.refusal for q in quotes if not q.payable and q.refusal), None)
        if refused is not None:
            raise _refused(refused, "", None)
        return view, aggregate_quote(pending, quotes)

    def identify(self, method: PaymentMethod, key: str) -> schemas.IdentifiedPatient:
        """The patient, and the token that lets this kiosk read their bills and credit:
        ``key`` is the card number, the e-voucher payload or the face match's patient id."""
        if method == PaymentMethod.CARD:
            return self.identify_card(key)
        if method == PaymentMethod.VOUCHER:
            return self.identify_voucher(key)
        return self.request("POST", "/v1/identify/face",
                            schemas.FaceIdentifyRequest(patient_id=key, pack=self.pack),
                            model=schemas.IdentifiedPatient, retry=True)

    def identify_card(self, card_no: str) -> schemas.IdentifiedPatient:
        return self.request("POST", "/v1/identify/card",
                            schemas.CardLookupRequest(card_no=card_no),
                            model=schemas.IdentifiedPatient, retry=True)

    def identify_voucher(self, payload: str) -> schemas.IdentifiedPatient:
        return self.request("POST", "/v1/identify/voucher",
                            schemas.VoucherLookupRequest(payload=payload),
                            model=schemas.IdentifiedPatient, retry=True)

    def quote(self, bill_id: str, patient_id: str, method: schemas.PaymentMethod,
              identification: str | None = None) -> schemas.Quote:
        """``identification``: a kiosk's token from ``identify`` (a counter needs none)."""
        return self.request("POST", "/v1/quotes", schemas.QuoteRequest(
            bill_id=bill_id, patient_id=patient_id, method=method),
            params=_identified(identification), model=schemas.Quote, retry=True)

    def owed(self, method: PaymentMethod, key: str) -> Statement:
        """我的欠款: identify the patient, then what they owe and whom they may pay for
        (亲情付); the identification stays in the statement, for the repayment."""
        identified = self.identify(method, key)
        token = identified.identification.token
        patient_id = identified.patient.patient_id
        family = tuple(
            FamilyMember(_view(d.patient), d.relation.value, d.credit.outstanding_fen, d)
            for d in self.dependants(patient_id, token).dependants)
        return _statement(self.credit_statement(patient_id, token), identified, family)

    def family_statement(self, dependant: schemas.Dependant) -> Statement:
        """亲情付: what a patient who authorised the relative owes, read (and later repaid)
        with the token the platform issued via the relative."""
        return _statement(self.credit_statement(dependant.patient.patient_id,
                                                dependant.identification.token), dependant)

    def credit_statement(self, patient_id: str, identification: str | None = None
                         ) -> schemas.CreditStatement:
        return self.request("GET", f"/v1/patients/{urlquote(patient_id, safe='')}/credit",
                            params=_identified(identification), model=schemas.CreditStatement)

    def open_repay_order(self, identified: schemas.IdentifiedPatient | schemas.Dependant,
                         amount_fen: int, settlement_id: str | None, idempotency_key: str
                         ) -> KioskRepayOrder:
        """A payment QR at the provider for ``amount_fen`` (one key: one order); with a
        dependant's token the platform records the relative as the payer."""
        order = self.request("POST", "/v1/repay-orders", schemas.RepayOrderRequest(
            patient_id=identified.patient.patient_id, amount_fen=amount_fen,
            settlement_id=settlement_id), params=_identified(identified.identification.token),
            idempotency_key=idempotency_key, model=schemas.RepayOrder)
        return self._repay_order(order)

    def repay_order(self, order_id: str) -> KioskRepayOrder:
        return self._repay_order(self.request(
            "GET", f"/v1/repay-orders/{urlquote(order_id, safe='')}", model=schemas.RepayOrder))

    def close_repay_order(self, order_id: str) -> KioskRepayOrder:
        """Make the QR unpayable (safe to send again); a paid order answers ``paid``."""
        return self._repay_order(self.request(
            "POST", f"/v1/repay-orders/{urlquote(order_id, safe='')}/close",
            model=schemas.RepayOrder, retry=True))

    def _repay_order(self, order: schemas.RepayOrder) -> KioskRepayOrder:
        return KioskRepayOrder(order.order_id, order.amount_fen, order.code_url, order.state.value,
                               max(0.0, order.expires_at.timestamp() - self.clock.now()),
                               order.credit.outstanding_fen if order.credit else None)

    def narrow(self, last4: str, candidates: list[str] | None) -> list[str]:
        return self.request("POST", "/v1/second-factor/narrow",
                            schemas.NarrowRequest(last4=last4, candidates=candidates),
                            model=schemas.NarrowResponse, retry=True).patient_ids

    def verify_digits(self, session_id: str, patient_id: str, last4: str) -> tuple[bool, int]:
        r = self.request("POST", "/v1/second-factor/verify", schemas.SecondFactorVerifyRequest(
            session_id=session_id, patient_id=patient_id, last4=last4),
            model=schemas.SecondFactorVerifyResponse)
        return r.verified, r.attempts_left

    def settle(self, request: schemas.SettleRequest, idempotency_key: str
               ) -> SignedSettlement:
        """The settlement, with the signed answer kept as the device's receipt."""
        resp = self.request("POST", "/v1/settlements", request, idempotency_key=idempotency_key)
        try:
            settlement = schemas.Settlement.model_validate_json(resp.content)
        except ValidationError as exc:
            raise BackendError(ErrorCode.BACKEND_BAD_RESPONSE,
                               "POST /v1/settlements: unexpected body",
                               status=resp.status_code) from exc
        return SignedSettlement(settlement, SignedAnswer.of(resp))

    def reconcile(self, request: schemas.ReconcileRequest) -> schemas.ReconcileResponse:
        """The batch totals (safe to send again: the platform only compares and alerts)."""
        return self.request("POST", "/v1/reconcile", request, model=schemas.ReconcileResponse,
                            retry=True)

    def sync_gallery(self, cursor: int) -> GalleryPage:
        page = self.request("GET", "/v1/gallery", params={"pack": self.pack, "cursor": cursor},
                            model=schemas.GallerySync)
        upserts = [(e.patient_id, Template.from_dict(e.template.model_dump()))
                   for e in page.upserts]
        return GalleryPage(page.cursor, page.more, upserts, list(page.deletions))

    def handoff(self, session_id: str, reason: str, patient_id: str | None = None,
                amount_fen: int | None = None) -> schemas.Handoff:
        """Tell the site's counters this session needs the cashier (safe to resend)."""
        return self.request("POST", "/v1/handoffs", schemas.HandoffRequest(
            session_id=session_id, reason=reason, patient_id=patient_id,
            amount_fen=amount_fen), model=schemas.Handoff, retry=True)

    def heartbeat(self, report: schemas.HeartbeatRequest) -> schemas.HeartbeatResponse:
        """This device's health, for the platform's fleet view (kiosks and counters); its
        answer sets the clock offset precisely and says the platform's window and retention."""
        sent = self.clock.local()
        answer = self.request("POST", "/v1/heartbeat", report, model=schemas.HeartbeatResponse,
                              retry=True)
        self.clock.observe(answer.received_at.timestamp(), sent, self.clock.local(),
                           precise=True)
        self.clock.learn_window(answer.skew_window_s)
        self.retention_hours = answer.idempotency_retention_hours
        return answer

    # ------------------------------------------------------ counter (cashier)
    def handoffs(self, *, open_only: bool = True, date: str | None = None
                 ) -> schemas.HandoffList:
        params = {"open": "true" if open_only else "false", **({"date": date} if date else {})}
        return self.request("GET", "/v1/handoffs", params=params, model=schemas.HandoffList)

    def take_handoff(self, handoff_id: str) -> schemas.Handoff:
        return self.request("POST", f"/v1/handoffs/{urlquote(handoff_id, safe='')}/take",
                            model=schemas.Handoff)

    def resolve_handoff(self, handoff_id: str, outcome: schemas.ResolveOutcome,
                        settlement_id: str | None = None) -> schemas.Handoff:
        return self.request(
            "POST", f"/v1/handoffs/{urlquote(handoff_id, safe='')}/resolve",
            schemas.HandoffResolveRequest(outcome=outcome, settlement_id=settlement_id),
            model=schemas.Handoff, retry=True)

    def dismiss_handoff(self, handoff_id: str, reason: schemas.DismissReason
                        ) -> schemas.Handoff:
        return self.request("POST", f"/v1/handoffs/{urlquote(handoff_id, safe='')}/dismiss",
                            schemas.HandoffDismissRequest(reason=reason),
                            model=schemas.Handoff, retry=True)

    def patient(self, patient_id: str) -> schemas.PatientView:
        return self.request("GET", f"/v1/patients/{urlquote(patient_id, safe='')}",
                            model=schemas.PatientView)

    def pending_bills(self, patient_id: str, identification: str | None = None
                      ) -> schemas.PendingBills:
        return self.request("GET", f"/v1/patients/{urlquote(patient_id, safe='')}/bills",
                            params=_identified(identification),
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

    def repay(self, request: schemas.RepayRequest, idempotency_key: str) -> schemas.Repayment:
        """A repayment taken at the counter (``paid_by``: the relative paying, 亲情付); the
        key makes a resend after a lost answer record it once."""
        return self.request("POST", "/v1/repayments", request,
                            idempotency_key=idempotency_key, model=schemas.Repayment)

    # --------------------------------------------------- 亲情付 (family pay, §8.3)
    def authorise_relative(self, patient_id: str, request: schemas.AuthoriseRelativeRequest
                           ) -> schemas.RelativeAuthorisation:
        """The patient's consent that ``request.relative_id`` may pay for them (the same
        again is answered unchanged: safe to resend)."""
        return self.request("POST", f"/v1/patients/{urlquote(patient_id, safe='')}/relatives",
                            request, model=schemas.RelativeAuthorisation, retry=True)

    def relatives(self, patient_id: str) -> schemas.RelativeList:
        """The patient's authorisations, standing and withdrawn."""
        return self.request("GET", f"/v1/patients/{urlquote(patient_id, safe='')}/relatives",
                            model=schemas.RelativeList)

    def withdraw_relative(self, patient_id: str, relative_id: str
                          ) -> schemas.RelativeAuthorisation:
        """Ends the authorisation at once (a withdrawn one is answered unchanged)."""
        return self.request(
            "POST", f"/v1/patients/{urlquote(patient_id, safe='')}/relatives/"
            f"{urlquote(relative_id, safe='')}/withdraw",
            model=schemas.RelativeAuthorisation, retry=True)

    def dependants(self, relative_id: str, identification: str | None = None
                   ) -> schemas.DependantList:
        """Whom ``relative_id`` may pay for; a kiosk sends the relative's own token."""
        return self.request("GET", f"/v1/patients/{urlquote(relative_id, safe='')}/dependants",
                            params=_identified(identification), model=schemas.DependantList)

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


def _view(p: schemas.MaskedPatient) -> KioskPatient:
    return KioskPatient(p.patient_id, p.name, p.national_id, p.category.value)


def _statement(found: schemas.CreditStatement, identity: Any,
               family: tuple[FamilyMember, ...] = ()) -> Statement:
    return Statement(
        _view(found.patient), found.credit.outstanding_fen,
        tuple(KioskOwedCharge(c.settlement_id, c.receipt_no, c.owed_fen, c.due_date, c.overdue)
              for c in found.charges), found.repay_at_kiosk, identity, family)


def _identified(token: str | None) -> dict[str, Any] | None:
    return {"identification": token} if token else None


def _error(resp: requests.Response, method: str, path: str) -> BackendError:
    try:
        detail = schemas.ErrorBody.model_validate_json(resp.content).error
    except ValidationError:
        return BackendError(ErrorCode.BACKEND_BAD_RESPONSE, f"{method} {path}: {resp.text[:200]}",
                            status=resp.status_code)
    return _refused(detail, f"{method} {path}: ", resp.status_code)


def _refused(detail: schemas.ErrorDetail, where: str, status: int | None) -> BackendError:
    """A platform refusal as the registry's code (an unknown code, from a newer platform,
    reads as ``server.internal``: its outcome unknown, never a final refusal)."""
    error = ProtocolError.from_body(status or 200, {"error": detail.model_dump()})
    return BackendError(error.code, where + detail.message, status=status, details=error.details)


def aggregate_quote(pending: schemas.PendingBills, quotes: list[schemas.Quote]) -> KioskQuote:
    """All of a patient's pending bills at this site as one quote the patient confirms once."""
    lines = tuple(BillLine(i.description, i.kind.value, i.amount_fen)
                  for b in pending.bills for i in b.items)
    layers = tuple((name, sum(getattr(q.layers, f"{name}_fen") for q in quotes))
                   for name in LAYER_NAMES)
    return KioskQuote(
        quote_id="+".join(q.bill_id for q in quotes),
        bill_ids=tuple(q.bill_id for q in quotes),
        lines=lines,
        total_fen=sum(q.total_fen for q in quotes),
        layers=layers,
        self_pay_fen=sum(q.charge_to_credit_fen + q.pay_at_counter_fen for q in quotes),
        credit_available_fen=pending.credit.available_fen,
        bill_self_pay=tuple((q.bill_id, q.layers.self_pay_fen) for q in quotes),
    )
