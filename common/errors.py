"""The error registry: every stable code of the product, defined once, and the one exception
base that carries it.

A code is a dotted string that never changes meaning once released (messages may be reworded,
codes may not). Each ``ErrorCode`` member holds what travels with it: the HTTP status when the
platform sends it on the wire (``None``: never on the wire), the ``kiosk.i18n`` key of what a
patient reads and the ``ui.cashier.words`` key of what a cashier reads. Kiosk, devices,
platform and UI all raise ``CodedError`` subclasses carrying a member and compare members,
never strings. The wire codes and their statuses are docs/protocol.md's; every error body is
``{"error": {"code": ..., "message": ..., "details": {...}}}`` (``kiosk.protocol.errors``).
Here, not in ``kiosk.protocol``, because devices may not import the kiosk and the platform
imports only the shared code.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Any

# patient text for a fault the patient cannot act on: staff at the counter will help
ASK_STAFF = "generic.problem"
# patient text for a fault of the system (the platform's, the link's): the same calm words
SYSTEM_FAULT = "server.internal"
# staff text naming the code, for codes without words of their own kind
STAFF_OTHER = "staff.other"


def entry(code: str, status: int | None = None, *, patient: str | None = None,
          staff: str = STAFF_OTHER) -> tuple[str, int | None, str, str]:
    """One registry row; the patient's text key is the code itself unless said otherwise."""
    return code, status, patient or code, staff


@unique  # a code written twice would silently become an alias of the first
class ErrorCode(StrEnum):
    """Every stable code. A member is its dotted string (``str(member)`` is the code)."""

    status: int | None
    patient: str
    staff: str

    def __new__(cls, code: str, status: int | None, patient: str, staff: str) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.patient = patient
        member.staff = staff
        return member

    @classmethod
    def wire(cls) -> list[ErrorCode]:
        """The codes of the wire's error body, each with its HTTP status (the ``client.*`` ones
        are raised by the kiosk's response verifier, never sent)."""
        return [code for code in cls if code.status is not None]

    @classmethod
    def families(cls, *names: str) -> frozenset[ErrorCode]:
        """The codes of these families (a code's family is its part before the first dot)."""
        return frozenset(code for code in cls if code.partition(".")[0] in names)

    # request shape
    MALFORMED_JSON = entry("request.malformed_json", 400, patient=SYSTEM_FAULT)
    INVALID_REQUEST = entry("request.invalid", 422, patient=SYSTEM_FAULT)
    BODY_TOO_LARGE = entry("request.too_large", 413, patient=SYSTEM_FAULT)
    UNSUPPORTED_MEDIA_TYPE = entry("request.unsupported_media_type", 415, patient=SYSTEM_FAULT)
    ROUTE_NOT_FOUND = entry("request.not_found", 404, patient=SYSTEM_FAULT)
    METHOD_NOT_ALLOWED = entry("request.method_not_allowed", 405, patient=SYSTEM_FAULT)
    # request authentication (RFC 9421 / RFC 9530)
    SIGNATURE_MISSING = entry("auth.signature_missing", 401, patient=SYSTEM_FAULT,
                              staff="staff.auth")
    SIGNATURE_PARAM_MISSING = entry("auth.param_missing", 400, patient=SYSTEM_FAULT,
                                    staff="staff.auth")
    BAD_SIGNATURE = entry("auth.bad_signature", 401, patient=SYSTEM_FAULT, staff="staff.auth")
    UNKNOWN_KEY = entry("auth.unknown_key", 401, patient=SYSTEM_FAULT, staff="staff.auth")
    DEVICE_REVOKED = entry("auth.device_revoked", 403, patient=SYSTEM_FAULT, staff="staff.auth")
    CLOCK_SKEW = entry("auth.clock_skew", 401, patient=SYSTEM_FAULT, staff="staff.auth")
    NONCE_REPLAYED = entry("auth.nonce_replayed", 401, patient=SYSTEM_FAULT, staff="staff.auth")
    DIGEST_MISMATCH = entry("auth.digest_mismatch", 400, patient=SYSTEM_FAULT, staff="staff.auth")
    COMPONENT_MISSING = entry("auth.component_missing", 400, patient=SYSTEM_FAULT,
                              staff="staff.auth")
    ROLE_FORBIDDEN = entry("auth.role_forbidden", 403, patient=SYSTEM_FAULT, staff="staff.auth")
    # a kiosk's patient look-up without a valid identification token of its own (§8.2)
    IDENTIFICATION_REQUIRED = entry("auth.identification_required", 403, patient=SYSTEM_FAULT,
                                    staff="staff.auth")
    IDENTIFICATION_EXPIRED = entry("auth.identification_expired", 403, staff="staff.auth")
    # /metrics: no or wrong bearer token
    OPERATOR_TOKEN_INVALID = entry("auth.operator_token", 401, patient=SYSTEM_FAULT,
                                   staff="staff.auth")
    # too many failed authentications: wait
    DEVICE_LOCKED = entry("auth.device_locked", 423, patient=SYSTEM_FAULT, staff="staff.auth")
    # too many requests from one device: slow down
    RATE_LIMITED = entry("auth.rate_limited", 429, patient=SYSTEM_FAULT, staff="staff.auth")
    # signed with the other crypto profile's algorithm, or a device registered under it (§2.1)
    CRYPTO_PROFILE_MISMATCH = entry("auth.crypto_profile_mismatch", 401, patient=SYSTEM_FAULT,
                                    staff="staff.auth")
    # device enrolment
    TOKEN_INVALID = entry("device.token_invalid", 403, patient=SYSTEM_FAULT)
    PUBLIC_KEY_INVALID = entry("device.public_key_invalid", 422, patient=SYSTEM_FAULT)
    # idempotency
    IDEMPOTENCY_KEY_MISSING = entry("idempotency.key_missing", 400, patient=SYSTEM_FAULT)
    IDEMPOTENCY_KEY_REUSED = entry("idempotency.key_reused", 422, patient=SYSTEM_FAULT)
    IDEMPOTENCY_IN_FLIGHT = entry("idempotency.in_flight", 409, patient=SYSTEM_FAULT)
    # business
    PATIENT_NOT_FOUND = entry("patient.not_found", 404, staff="staff.patient.not_found")
    CARD_NOT_FOUND = entry("card.not_found", 404, staff="staff.card.not_found")
    VOUCHER_MALFORMED = entry("voucher.malformed", 400, staff="staff.voucher")
    VOUCHER_NOT_FOUND = entry("voucher.not_found", 404, staff="staff.voucher.not_found")
    VOUCHER_EXPIRED = entry("voucher.expired", 410, staff="staff.voucher.expired")
    VOUCHER_REVOKED = entry("voucher.revoked", 410, staff="staff.voucher.revoked")
    SECOND_FACTOR_LOCKED = entry("second_factor.locked", 423, staff="staff.second_factor.locked")
    BILL_NOT_FOUND = entry("bill.not_found", 404, staff="staff.bill.not_found")
    BILL_ALREADY_SETTLED = entry("bill.already_settled", 409, staff="staff.bill.already_settled")
    BILL_PATIENT_MISMATCH = entry("bill.patient_mismatch", 409, staff="staff.bill.patient_mismatch")
    QUOTE_CHANGED = entry("settlement.quote_changed", 409, staff="staff.settlement.quote_changed")
    SETTLEMENT_NOT_FOUND = entry("settlement.not_found", 404, staff="staff.settlement")
    SETTLEMENT_ALREADY_REVERSED = entry("settlement.already_reversed", 409,
                                        staff="staff.settlement")
    CREDIT_LIMIT_EXCEEDED = entry("credit.limit_exceeded", 402, staff="staff.credit.limit_exceeded")
    USER_SUSPENDED = entry("credit.user_suspended", 403, staff="staff.credit.user_suspended")
    USER_BLACKLISTED = entry("credit.user_blacklisted", 403, staff="staff.credit.user_blacklisted")
    CONSENT_MISSING = entry("consent.missing", 403, staff="staff.consent")
    AMOUNT_INVALID = entry("amount.invalid", 422)
    AMOUNT_EXCEEDS_BALANCE = entry("amount.exceeds_balance", 422)
    REASON_REQUIRED = entry("repayment.reason_required", 422)  # another site's patient: say why
    TEMPLATE_INVALID = entry("template.invalid", 422)
    HANDOFF_NOT_FOUND = entry("handoff.not_found", 404)
    FAMILY_NOT_AUTHORISED = entry("family.not_authorised", 403)  # no active 亲情付 authorisation
    FAMILY_SELF = entry("family.self", 422)  # a patient cannot be their own relative
    HANDOFF_ALREADY_TAKEN = entry("handoff.already_taken", 409)
    HANDOFF_ALREADY_CLOSED = entry("handoff.already_closed", 409)
    BILL_CANCELLED = entry("bill.cancelled", 409, staff="staff.bill")  # by the hospital system
    # the hospital information system's bill feed (server_stub/his.py): this bill number
    # already holds other content; a settled bill's amend or cancel goes to the cashier
    HIS_BILL_CONFLICT = entry("his.bill_conflict", 409, patient=SYSTEM_FAULT, staff="staff.his")
    HIS_BILL_SETTLED = entry("his.bill_settled", 409, patient=SYSTEM_FAULT, staff="staff.his")
    # repayment through a payment provider (server_stub/repayment_orders.py)
    REPAY_ORDER_NOT_FOUND = entry("repay_order.not_found", 404)
    PAYMENT_UNAVAILABLE = entry("payment.unavailable", 503)  # the provider did not answer: retry
    PAYMENT_NOT_OFFERED = entry("payment.not_offered", 409)  # this platform has no payment provider
    # a callback that does not verify
    NOTIFICATION_INVALID = entry("payment.notification_invalid", 401)
    # server side
    INTERNAL = entry("server.internal", 500, staff="staff.server")
    # the platform cannot write (disk full, I/O error)
    STORAGE_UNAVAILABLE = entry("server.storage", 503, patient=SYSTEM_FAULT, staff="staff.server")
    # client side only: never sent by the server, raised by the response verifier
    UNTRUSTED_RESPONSE = entry("client.untrusted_response", 502, patient=SYSTEM_FAULT)
    # not the certificate pinned at provisioning
    TLS_PIN_MISMATCH = entry("client.tls_pin_mismatch", 495)
    # plain http:// to a non-loopback host
    INSECURE_TRANSPORT = entry("client.insecure_transport", 400)

    # --- never on the wire: the kiosk side (set-up, provisioning, the cashier PIN, files)
    KIOSK_ERROR = entry("kiosk.error", patient=ASK_STAFF)
    CONFIG_INVALID = entry("config.invalid", patient=ASK_STAFF)
    CONFIG_SIMULATED_DEVICE = entry("config.simulated_device", patient=ASK_STAFF)
    SERVER_CONFIG_INVALID = entry("server.config_invalid", patient=SYSTEM_FAULT,
                                  staff="staff.server")
    PROVISION_FAILED = entry("provision.failed", patient=ASK_STAFF)
    PROVISION_UNREACHABLE = entry("provision.unreachable", patient=ASK_STAFF)
    PROVISION_BAD_SERVER = entry("provision.bad_server", patient=ASK_STAFF)
    PROVISION_BAD_FINGERPRINT = entry("provision.bad_fingerprint", patient=ASK_STAFF)
    PROVISION_FINGERPRINT_MISMATCH = entry("provision.fingerprint_mismatch", patient=ASK_STAFF)
    PROVISION_CRYPTO_PROFILE_MISMATCH = entry("provision.crypto_profile_mismatch",
                                              patient=ASK_STAFF)
    PROVISION_UNTRUSTED = entry("provision.untrusted", patient=ASK_STAFF)
    PIN_INVALID = entry("pin.invalid", patient=ASK_STAFF)
    PIN_HASH_INVALID = entry("pin.hash_invalid", patient=ASK_STAFF)
    PIN_MISSING = entry("pin.missing", patient=ASK_STAFF)
    # what staff typed at the counter cannot be sent (a look-up key, an amount, a reason)
    COUNTER_BAD_INPUT = entry("counter.bad_input", patient=ASK_STAFF)
    GALLERY_STORE_INVALID = entry("gallery.store_invalid", patient=ASK_STAFF)
    GALLERY_NOT_A_FOLDER = entry("gallery.not_a_folder", patient=ASK_STAFF)
    CALIBRATION_BAD_PAIRS_FILE = entry("calibration.bad_pairs_file", patient=ASK_STAFF)
    # images, model packs and templates
    IMAGE_INVALID = entry("image.invalid", patient=ASK_STAFF)
    IMAGE_UNREADABLE = entry("image.unreadable", patient=ASK_STAFF)
    IMAGE_TOO_LARGE = entry("image.too_large", patient=ASK_STAFF)
    IMAGE_EMPTY = entry("image.empty", patient=ASK_STAFF)
    IMAGE_NOT_AN_IMAGE = entry("image.not_an_image", patient=ASK_STAFF)
    IMAGE_TRUNCATED = entry("image.truncated", patient=ASK_STAFF)
    IMAGE_CORRUPT = entry("image.corrupt", patient=ASK_STAFF)
    IMAGE_BAD_SHAPE = entry("image.bad_shape", patient=ASK_STAFF)
    IMAGE_NOT_FINITE = entry("image.not_finite", patient=ASK_STAFF)
    IMAGE_BAD_DTYPE = entry("image.bad_dtype", patient=ASK_STAFF)
    MODEL_ERROR = entry("model.error", patient=ASK_STAFF)
    MODEL_MISSING = entry("model.missing", patient=ASK_STAFF)
    MODEL_DIGEST_MISMATCH = entry("model.digest_mismatch", patient=ASK_STAFF)
    MODEL_INSTALL_FAILED = entry("model.install_failed", patient=ASK_STAFF)
    MODEL_MANIFEST_INVALID = entry("model.manifest_invalid", patient=ASK_STAFF)
    TEMPLATE_PACK_MISMATCH = entry("template.pack_mismatch", patient=ASK_STAFF)
    # the benchmarks' set-up refusals (``kiosk bench``: exit 3)
    BENCH_PEER_MISSING = entry("bench.peer_missing", patient=ASK_STAFF)
    BENCH_NO_FACES = entry("bench.no_faces", patient=ASK_STAFF)
    LIVENESS_BAD_INPUT = entry("liveness.bad_input", patient="liveness._other",
                               staff="staff.liveness")
    # the kiosk's view of the platform: no answer, or none it can use; offline refusals
    BACKEND_UNREACHABLE = entry("backend.unreachable", staff="staff.backend.unreachable")
    BACKEND_TIMEOUT = entry("backend.timeout", staff="staff.backend.timeout")
    BACKEND_BAD_RESPONSE = entry("backend.bad_response", staff="staff.backend")
    OFFLINE_REFUSED = entry("offline.refused", patient=ASK_STAFF)
    OFFLINE_AMOUNT_OVER_LIMIT = entry("offline.amount_over_limit", patient=ASK_STAFF)
    OFFLINE_TOO_MANY_QUEUED = entry("offline.too_many_queued", patient=ASK_STAFF)
    OFFLINE_TOTAL_OVER_LIMIT = entry("offline.total_over_limit", patient=ASK_STAFF)
    OFFLINE_QUEUE_TOO_OLD = entry("offline.queue_too_old", patient=ASK_STAFF)
    # face payment: the quality gate's reasons (face.<reason>, shown as quality.<reason>)
    FACE_NOT_USABLE = entry("face.not_usable", patient="face._other", staff="staff.face")
    FACE_NO_FACE = entry("face.no_face", patient="quality.no_face", staff="staff.face")
    FACE_MULTIPLE_FACES = entry("face.multiple_faces", patient="quality.multiple_faces",
                                staff="staff.face")
    FACE_TOO_FAR = entry("face.too_far", patient="quality.too_far", staff="staff.face")
    FACE_TOO_CLOSE = entry("face.too_close", patient="quality.too_close", staff="staff.face")
    FACE_CUT_OFF = entry("face.cut_off", patient="quality.cut_off", staff="staff.face")
    FACE_NOT_FRONTAL = entry("face.not_frontal", patient="quality.not_frontal", staff="staff.face")
    FACE_BLURRED = entry("face.blurred", patient="quality.blurred", staff="staff.face")
    FACE_TOO_DARK = entry("face.too_dark", patient="quality.too_dark", staff="staff.face")
    FACE_TOO_BRIGHT = entry("face.too_bright", patient="quality.too_bright", staff="staff.face")
    FACE_NOT_RECOGNISED = entry("face.not_recognised", staff="staff.face.not_recognised")
    FACE_TIMEOUT = entry("face.timeout", staff="staff.face.timeout")
    FACE_CAMERA_FAILED = entry("face.camera_failed", staff="staff.face.camera_failed")
    # counter enrolment: why a capture was refused (kiosk/counter/enrolment.py), in the
    # cashier's own words (a patient never reads these); the enrolment panel says them
    ENROL_QUALITY_POOR = entry("enrol.quality_poor")  # its words need the problem seen
    ENROL_INCONSISTENT = entry("enrol.inconsistent", staff="enrol.inconsistent")
    ENROL_TIMEOUT = entry("enrol.timeout", staff="enrol.timeout")
    ENROL_CAMERA_FAILED = entry("enrol.camera_failed", staff="enrol.camera_failed")
    ENROL_SIMULATED_CAMERA = entry("enrol.simulated_camera", patient=ASK_STAFF,
                                   staff="enrol.simulated_camera")
    # liveness failures (kiosk/liveness)
    LIVENESS_FAILED = entry("liveness.failed", staff="staff.liveness")
    LIVENESS_NO_PARALLAX = entry("liveness.no_parallax", staff="staff.liveness")
    LIVENESS_WRONG_DIRECTION = entry("liveness.wrong_direction", staff="staff.liveness")
    LIVENESS_TOO_FAST = entry("liveness.too_fast", staff="staff.liveness")
    LIVENESS_TIMEOUT = entry("liveness.timeout", staff="staff.liveness.timeout")
    LIVENESS_FACE_LOST = entry("liveness.face_lost", staff="staff.liveness")
    LIVENESS_FACE_CHANGED = entry("liveness.face_changed", staff="staff.liveness")
    LIVENESS_SCREEN_DETECTED = entry("liveness.screen_detected",
                                     staff="staff.liveness.screen_detected")
    LIVENESS_MODEL_REJECTED = entry("liveness.model_rejected", staff="staff.liveness")
    # how a session ended, as the flow and the counter queue report it
    SECOND_FACTOR_TIMEOUT = entry("second_factor.timeout", staff="staff.second_factor.timeout")
    REVIEW_TIMEOUT = entry("review.timeout", staff="staff.review.timeout")
    PATIENT_REQUESTED_CASHIER = entry("patient.requested_cashier",
                                      staff="staff.patient.requested_cashier")
    PATIENT_CANCELLED = entry("patient.cancelled", staff="staff.patient")
    SESSION_ABANDONED = entry("session.abandoned", staff="staff.session.abandoned")
    SESSION_FINISHED = entry("session.finished")
    BILL_NONE_PENDING = entry("bill.none_pending", staff="staff.bill")
    SETTLEMENT_UNCONFIRMED = entry("settlement.unconfirmed", staff="staff.settlement.unconfirmed")
    SETTLEMENT_PARTIAL = entry("settlement.partial", staff="staff.settlement.partial")
    SETTLEMENT_EXPIRED = entry("settlement.expired", staff="staff.settlement.expired")
    SETTLEMENT_REFUSED = entry("settlement.refused", staff="staff.settlement.refused")
    RECONCILE_MISMATCH = entry("reconcile.mismatch", staff="staff.reconcile")
    RECONCILE_MISSING_ON_PLATFORM = entry("reconcile.missing_on_platform", staff="staff.reconcile")
    REPAY_UNCONFIRMED = entry("repay.unconfirmed")
    CLOCK_SKEWED = entry("clock.skewed", staff="staff.clock.skewed")
    HIS_AMENDED_AFTER_SETTLEMENT = entry("his.amended_after_settlement", patient=ASK_STAFF,
                                         staff="staff.his.amended_after_settlement")
    HIS_CANCELLED_AFTER_SETTLEMENT = entry("his.cancelled_after_settlement", patient=ASK_STAFF,
                                           staff="staff.his.cancelled_after_settlement")
    # the platform's own, never on the wire: operator input, sealed rows, SMS, the HIS simulator
    ADMIN_INVALID_INPUT = entry("admin.invalid_input", patient=ASK_STAFF)
    TEMPLATE_UNSEALABLE = entry("template.unsealable", patient=ASK_STAFF, staff="staff.server")
    SMS_GATEWAY_FAILED = entry("sms.gateway_failed", patient=ASK_STAFF, staff="staff.server")
    HIS_SIMULATOR_FAILED = entry("his.simulator_failed", patient=ASK_STAFF, staff="staff.server")
    # devices (device/): cameras, scanners and e-vouchers, card readers, printers
    DEVICE_ERROR = entry("device.error", patient=ASK_STAFF)
    DEVICE_CONFIG_INVALID = entry("device.config_invalid", patient=ASK_STAFF)
    FONT_CJK_MISSING = entry("font.cjk_missing", patient=ASK_STAFF)
    # the screens' start-up checks (python -m ui check): Qt cannot show them as they must look
    FONT_UNUSABLE = entry("font.unusable", patient=ASK_STAFF)
    FONT_NOT_SIMPLIFIED = entry("font.not_simplified", patient=ASK_STAFF)
    QT_NO_DISPLAY = entry("qt.no_display", patient=ASK_STAFF)
    QT_REFCOUNT_BUG = entry("qt.refcount_bug", patient=ASK_STAFF)
    CAMERA_ERROR = entry("camera.error", patient="face.camera_failed",
                         staff="staff.face.camera_failed")
    CAMERA_UNAVAILABLE = entry("camera.unavailable", patient="face.camera_failed",
                               staff="staff.face.camera_failed")
    CAMERA_DISCONNECTED = entry("camera.disconnected", patient="face.camera_failed",
                                staff="staff.face.camera_failed")
    CAMERA_ENDED = entry("camera.ended", patient="face.camera_failed",
                         staff="staff.face.camera_failed")
    CAMERA_NOT_CONFIGURED = entry("camera.not_configured", patient="face.camera_failed",
                                  staff="staff.face.camera_failed")
    SCANNER_ERROR = entry("scanner.error", patient="scanner.unavailable", staff="staff.scanner")
    SCANNER_UNAVAILABLE = entry("scanner.unavailable", staff="staff.scanner")
    EVOUCHER_INVALID = entry("evoucher.invalid", patient="evoucher.malformed",
                             staff="staff.evoucher")
    EVOUCHER_NOT_EVOUCHER = entry("evoucher.not_evoucher", staff="staff.evoucher")
    EVOUCHER_MALFORMED = entry("evoucher.malformed", staff="staff.evoucher")
    EVOUCHER_UNSUPPORTED_VERSION = entry("evoucher.unsupported_version", staff="staff.evoucher")
    EVOUCHER_BAD_TOKEN = entry("evoucher.bad_token", staff="staff.evoucher")
    EVOUCHER_CHECKSUM_MISMATCH = entry("evoucher.checksum_mismatch", staff="staff.evoucher")
    CARD_ERROR = entry("card.error", patient="card.unreadable", staff="staff.card.reader")
    CARD_READER_UNAVAILABLE = entry("card.reader_unavailable", staff="staff.card.reader")
    CARD_NOT_CONFIGURED = entry("card.not_configured", patient="card.reader_unavailable",
                                staff="staff.card.reader")
    CARD_TIMEOUT = entry("card.timeout", patient="card.unreadable", staff="staff.card.reader")
    CARD_NO_CARD = entry("card.no_card", staff="staff.card")
    CARD_FRAME_GARBLED = entry("card.frame_garbled", patient="card.unreadable",
                               staff="staff.card.reader")
    CARD_FRAME_CHECKSUM = entry("card.frame_checksum", patient="card.unreadable",
                                staff="staff.card.reader")
    CARD_FRAME_TRUNCATED = entry("card.frame_truncated", patient="card.unreadable",
                                 staff="staff.card.reader")
    CARD_DATA_INVALID = entry("card.data_invalid", patient="card.unreadable",
                              staff="staff.card.reader")
    CARD_READER_ERROR = entry("card.reader_error", patient="card.reader_unavailable",
                              staff="staff.card.reader")
    PRINTER_ERROR = entry("printer.error", patient="printer.offline", staff="staff.printer")
    PRINTER_OFFLINE = entry("printer.offline", staff="staff.printer")
    PRINTER_OUT_OF_PAPER = entry("printer.out_of_paper", staff="staff.printer")
    PRINTER_NOT_CONFIGURED = entry("printer.not_configured", patient="printer.offline",
                                   staff="staff.printer")
    PRINTER_USB_UNSUPPORTED = entry("printer.usb_unsupported", patient="printer.offline",
                                    staff="staff.printer")
    RECEIPT_INVALID = entry("receipt.invalid", patient="done.receipt_unavailable",
                            staff="staff.printer")
    RECEIPT_NOT_FOUND = entry("receipt.not_found", staff="staff.printer")
    RECEIPT_CORRUPT = entry("receipt.corrupt", patient="done.receipt_unavailable",
                            staff="staff.printer")
    # device health (heartbeats, kiosk doctor): a device working around a fault, or not yet up
    CAMERA_STARTING = entry("camera.starting", patient="face.camera_failed",
                            staff="staff.face.camera_failed")
    CAMERA_RECONNECTING = entry("camera.reconnecting", patient="face.camera_failed",
                                staff="staff.face.camera_failed")
    CAMERA_STALLED = entry("camera.stalled", patient="face.camera_failed",
                           staff="staff.face.camera_failed")
    SCANNER_STARTING = entry("scanner.starting", patient="scanner.unavailable",
                             staff="staff.scanner")
    SCANNER_RECONNECTING = entry("scanner.reconnecting", patient="scanner.unavailable",
                                 staff="staff.scanner")
    SCANNER_STALLED = entry("scanner.stalled", patient="scanner.unavailable", staff="staff.scanner")
    SCANNER_DISCONNECTED = entry("scanner.disconnected", patient="scanner.unavailable",
                                 staff="staff.scanner")
    SCANNER_STOPPED = entry("scanner.stopped", patient="scanner.unavailable", staff="staff.scanner")
    SCANNER_NOT_CONFIGURED = entry("scanner.not_configured", patient="scanner.unavailable",
                                   staff="staff.scanner")
    # a keyboard-wedge scanner cannot be asked whether it is there
    SCANNER_WEDGE_UNVERIFIED = entry("scanner.wedge_unverified", patient="scanner.unavailable",
                                     staff="staff.scanner")
    CARD_UNCHECKED = entry("card.unchecked", patient="card.reader_unavailable",
                           staff="staff.card.reader")
    CARD_SIMULATED = entry("card.simulated", patient=ASK_STAFF, staff="staff.card.reader")
    PRINTER_UNCHECKED = entry("printer.unchecked", patient="printer.offline", staff="staff.printer")
    PRINTER_STATUS_UNKNOWN = entry("printer.status_unknown", patient="printer.offline",
                                   staff="staff.printer")
    PRINTER_PAPER_LOW = entry("printer.paper_low", patient="printer.out_of_paper",
                              staff="staff.printer")
    SPEAKER_NOT_CONFIGURED = entry("speaker.not_configured", patient=ASK_STAFF,
                                   staff="staff.speaker")
    SPEAKER_TTS_MISSING = entry("speaker.tts_missing", patient=ASK_STAFF, staff="staff.speaker")
    SPEAKER_TTS_FAILED = entry("speaker.tts_failed", patient=ASK_STAFF, staff="staff.speaker")
    SPEAKER_PLAYER_MISSING = entry("speaker.player_missing", patient=ASK_STAFF,
                                   staff="staff.speaker")
    SPEAKER_VOICE_MISSING = entry("speaker.voice_missing", patient=ASK_STAFF, staff="staff.speaker")
    SPEAKER_VOICE_UNUSABLE = entry("speaker.voice_unusable", patient=ASK_STAFF,
                                   staff="staff.speaker")
    SPEAKER_NO_AUDIO_DEVICE = entry("speaker.no_audio_device", patient=ASK_STAFF,
                                    staff="staff.speaker")
    SPEAKER_PLAYBACK_FAILED = entry("speaker.playback_failed", patient=ASK_STAFF,
                                    staff="staff.speaker")
    # the kiosk's settlement sender thread (kiosk/settlement/sender.py)
    OUTBOX_SENDER_FAILED = entry("outbox.sender_failed", patient=ASK_STAFF)
    OUTBOX_SENDER_STOPPED = entry("outbox.sender_stopped", patient=ASK_STAFF)


class CodedError(Exception):
    """Base of every error raised on purpose: ``code`` is a registry member, ``context`` holds
    safe, loggable details (no PII). Families whose members differ only by cause take the code
    as an argument; others name it as a class attribute."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message, **self.context}
