"""The console's pure logic: checking what staff type before anything is sent, and turning
platform answers into lines of text. No Qt here, so it is tested directly."""

from __future__ import annotations

from pydantic import ValidationError

from device.errors import EVoucherError
from device.scanner import parse_evoucher
from kiosk.protocol.schemas import (
    CardLookupRequest,
    MaskedPatient,
    Quote,
    Reconciliation,
    ReconTotals,
    ReverseRequest,
    WithdrawConsentRequest,
)
from ui.cashier.service import LookupBy
from ui.i18n import label, tr, yuan

PATIENT_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")


class BadInput(ValueError):
    """What staff typed cannot be sent; ``str(exc)`` says why in plain words."""


def _first_error(exc: ValidationError) -> str:
    return str(exc.errors()[0].get("msg", "invalid"))


def lookup_key(by: LookupBy, text: str) -> str:
    """The key to look up by, checked like the platform would; ``BadInput`` otherwise."""
    key = text.strip()
    if by == LookupBy.CARD:
        try:
            return CardLookupRequest(card_no=key).card_no
        except ValidationError as exc:
            raise BadInput(_first_error(exc)) from None
    if by == LookupBy.VOUCHER:
        try:
            return parse_evoucher(key).payload
        except EVoucherError as exc:
            raise BadInput(exc.message) from None
    if not 1 <= len(key) <= 64 or not set(key) <= PATIENT_ID_CHARS:
        raise BadInput("a patient id is 1-64 letters, digits or . _ : -")
    return key


def reversal_reason(text: str) -> str:
    try:
        return ReverseRequest(reason=text.strip()).reason
    except ValidationError as exc:
        raise BadInput(_first_error(exc)) from None


def withdrawal_reason(text: str) -> str | None:
    reason = text.strip() or None
    try:
        return WithdrawConsentRequest(reason=reason).reason
    except ValidationError as exc:
        raise BadInput(_first_error(exc)) from None


def patient_line(patient: MaskedPatient, available_fen: int, lang: str) -> str:
    return tr("cashier.patient_line", lang, name=patient.name, id=patient.national_id,
              category=label("category", patient.category.value, lang),
              available=yuan(available_fen, lang))


def quote_line(quote: Quote, lang: str) -> str:
    layers = quote.layers
    line = tr("cashier.quote_line", lang, total=yuan(quote.total_fen, lang),
              basic=yuan(layers.basic_pool_fen, lang),
              critical=yuan(layers.critical_illness_fen, lang),
              aid=yuan(layers.medical_aid_fen, lang), self_pay=yuan(layers.self_pay_fen, lang),
              credit=yuan(quote.charge_to_credit_fen, lang),
              counter=yuan(quote.pay_at_counter_fen, lang))
    if not quote.payable and quote.refusal is not None:
        line += "\n" + tr("cashier.not_payable", lang, reason=tr(quote.refusal.code, lang))
    return line


def _totals_line(name: str, totals: ReconTotals, lang: str) -> str:
    return tr("cashier.recon_row", lang, label=name,
              count=totals.count, total=yuan(totals.total_fen, lang),
              basic=yuan(totals.basic_pool_fen, lang),
              critical=yuan(totals.critical_illness_fen, lang),
              aid=yuan(totals.medical_aid_fen, lang), self_pay=yuan(totals.self_pay_fen, lang))


def recon_lines(recon: Reconciliation, lang: str) -> list[str]:
    """The day's reconciliation as lines: heading, settled, reversed, net, per method, and
    whether it balances (a report that does not add up must say so loudly)."""
    lines = [tr("cashier.recon_heading", lang, date=recon.date, tz=recon.timezone),
             _totals_line(tr("cashier.recon_settled", lang), recon.settled, lang),
             _totals_line(tr("cashier.recon_reversed", lang), recon.reversed, lang),
             _totals_line(tr("cashier.recon_net", lang), recon.net, lang)]
    lines += [_totals_line(label("method", method.value, lang), totals, lang)
              for method, totals in sorted(recon.by_method.items())]
    lines.append(tr("cashier.recon_balanced" if recon.balanced else "cashier.recon_unbalanced",
                    lang))
    return lines
