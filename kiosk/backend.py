"""What the kiosk needs from the platform, as an interface the runtime depends on.

``kiosk.client.PlatformClient`` implements it over signed HTTP; tests may drive the runtime
against the real server through that client. Failures are ``BackendError`` with the wire
error code, and whether retrying the same request could succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.errors import KioskError
from kiosk.flow.model import Method, PatientView, Quote
from kiosk.protocol import schemas
from kiosk.recognition.template import Template


class BackendError(KioskError):
    """``code`` is the platform's wire code (or ``backend.unreachable``/``backend.timeout``)."""

    def __init__(self, code: str, message: str, retryable: bool, status: int | None = None):
        super().__init__(message, status=status)
        self.code = code
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class GalleryPage:
    cursor: int
    more: bool
    upserts: list[tuple[str, Template]]
    deletions: list[str]


class Backend(Protocol):
    def lookup(self, method: Method, key: str) -> tuple[PatientView, Quote | None]: ...

    def narrow(self, last4: str, candidates: list[str] | None) -> list[str]: ...

    def verify_digits(self, session_id: str, patient_id: str, last4: str) -> tuple[bool, int]:
        ...

    def settle(self, idempotency_key: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def sync_gallery(self, cursor: int) -> GalleryPage: ...

    def handoff(self, session_id: str, reason: str) -> Any: ...

    def heartbeat(self, report: schemas.HeartbeatRequest) -> schemas.HeartbeatResponse: ...
