"""One Idempotency-Key per *confirmed* charge, so neither a double click nor a second
confirmation charges twice, and a retry after an unknown outcome asks the same question.

The key is made when staff confirm, kept while the outcome is unknown (the platform answers
a repeat with the first charge), and dropped once the charge is known to have happened or
been refused. A bill settled here is never charged again from this console.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from kiosk.protocol.schemas import SettleRequest


def _identity(request: SettleRequest) -> tuple[str, str, str, int | None]:
    return (request.bill_id, request.patient_id, request.method.value,
            request.expected_self_pay_fen)


class ChargeGuard:
    def __init__(self, new_key: Callable[[], str] = lambda: secrets.token_hex(12)) -> None:
        self.new_key = new_key
        self.in_flight = False
        self._unknown: tuple[tuple[str, str, str, int | None], str] | None = None
        self._settled: set[str] = set()

    def begin(self, request: SettleRequest) -> str | None:
        """The key to charge with, or None when this confirmation must not charge (one is in
        flight, or this bill was already settled here)."""
        if self.in_flight or request.bill_id in self._settled:
            return None
        identity = _identity(request)
        if self._unknown is not None and self._unknown[0] == identity:
            key = self._unknown[1]
        else:
            key = self.new_key()
        self._unknown = (identity, key)  # until the outcome is known
        self.in_flight = True
        return key

    def settled(self, bill_id: str) -> None:
        self._settled.add(bill_id)
        self._unknown, self.in_flight = None, False

    def refused(self) -> None:
        """A definite refusal (quote changed, limit...): the next confirmation is new."""
        self._unknown, self.in_flight = None, False

    def unknown(self) -> None:
        """The answer was lost: keep the key for the next confirmation of the same charge."""
        self.in_flight = False

    @property
    def retry_pending(self) -> bool:
        return self._unknown is not None and not self.in_flight

    def forget(self) -> None:
        self._unknown, self.in_flight, self._settled = None, False, set()
