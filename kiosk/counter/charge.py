"""One Idempotency-Key per *confirmed* charge or repayment, so neither a double click nor a
second confirmation charges twice, and a retry after an unknown outcome asks the same
question.

The key is made when staff confirm, kept while the outcome is unknown (the platform answers
a repeat with the first charge), and dropped once the charge is known to have happened or
been refused. A bill settled here is never charged again from this console. The same key is
only ever sent with the same body (the platform refuses another: ``idempotency.key_reused``),
so any change — another method, amount, or relative paying — is a new charge.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from kiosk.protocol.schemas import RepayRequest, SettleRequest


class ChargeGuard:
    def __init__(self, new_key: Callable[[], str] = lambda: secrets.token_hex(12)) -> None:
        self.new_key = new_key
        self.in_flight = False
        self._unknown: tuple[str, str] | None = None  # (request body, its key)
        self._settled: set[str] = set()

    def begin(self, request: SettleRequest | RepayRequest) -> str | None:
        """The key to charge with, or None when this confirmation must not charge (one is in
        flight, or this bill was already settled here)."""
        if self.in_flight or (isinstance(request, SettleRequest)
                              and request.bill_id in self._settled):
            return None
        identity = request.model_dump_json()
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

    def repaid(self) -> None:
        """A repayment recorded: the next confirmation is another repayment."""
        self._unknown, self.in_flight = None, False

    def unknown(self) -> None:
        """The answer was lost: keep the key for the next confirmation of the same charge."""
        self.in_flight = False

    @property
    def retry_pending(self) -> bool:
        return self._unknown is not None and not self.in_flight

    def forget(self) -> None:
        self._unknown, self.in_flight, self._settled = None, False, set()
