"""Notification adapters: the SMS gateway seam the platform's reminders go through.

The platform keeps no full phone number (data minimisation: only the masked form and the
last four digits, server_stub/records/patients.py), so a message names its recipient by patient id
and masked number; a real gateway adapter resolves the number through the hospital's
contact service (or an operator SMS platform addressed by patient id) and is given the
reminder's key as its idempotency key. Real gateways (Aliyun SMS, Tencent Cloud SMS) need a
signed-up sender signature and template approval, so the shipped adapter is the simulator:
it records what it would have sent, one JSON line per message, fsynced, and nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from common.errors import CodedError, ErrorCode
from server_stub.config import RemindersSection

log = logging.getLogger("server_stub.notify")


class GatewayError(CodedError):
    """The gateway did not take the message; the caller may try again later."""

    code = ErrorCode.SMS_GATEWAY_FAILED


@dataclass(frozen=True)
class Sms:
    key: str  # "<settlement_id>:<stage>": the gateway's idempotency key
    patient_id: str
    phone_masked: str  # e.g. 138****1003: the recipient as the platform knows it
    text: str


class SmsGateway(Protocol):
    name: str

    def send(self, message: Sms) -> str:
        """Hand the message over; the gateway's reference for it, or ``GatewayError``."""


class SimulatedGateway:
    """Appends each message to ``outbox`` (JSON lines) as a delivery record would."""

    name = "simulator"

    def __init__(self, outbox: str | Path) -> None:
        self.outbox = Path(outbox)
        self._lock = threading.Lock()

    def send(self, message: Sms) -> str:
        reference = f"sim-{message.key}"
        line = json.dumps({**asdict(message), "gateway_ref": reference},
                          ensure_ascii=False, sort_keys=True) + "\n"
        try:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.outbox.open("a", encoding="utf-8") as sink:
                sink.write(line)
                sink.flush()
                os.fsync(sink.fileno())
        except OSError as exc:
            raise GatewayError(f"outbox {self.outbox}: {exc.strerror}") from exc
        log.info("sms.sent", extra={"gateway": self.name, "to": message.phone_masked,
                                    "key": message.key[:12]})
        return reference


def gateway_for(config: RemindersSection) -> SmsGateway:
    """The configured adapter (``[reminders] gateway``; the config refuses unknown names)."""
    return SimulatedGateway(config.outbox_path)
