"""A card reader for demos and flow tests: same interface, timing and errors as a real one."""

from __future__ import annotations

import threading
from collections import deque

from common.errors import ErrorCode
from device.card.base import CardData, CardReader
from device.errors import CardReaderError, CardTimeout, NoCard
from device.health import DeviceHealth, HealthState


class SimulatedCardReader(CardReader):
    """Holds one inserted card (or none). ``script`` queues outcomes - cards or errors - for
    the next reads, so tests can play "garbled read, then success" through the real flow."""

    def __init__(self, card: CardData | None, *, delay_s: float = 0.3) -> None:
        self.card = card
        self.delay_s = delay_s
        self._script: deque[CardData | CardReaderError] = deque()
        self._closed = threading.Event()

    def insert(self, card: CardData) -> None:
        self.card = card

    def remove(self) -> None:
        self.card = None

    def script(self, *outcomes: CardData | CardReaderError) -> None:
        self._script.extend(outcomes)

    def read_card(self, timeout: float | None = None) -> CardData:
        if timeout is not None and timeout < self.delay_s:
            self._closed.wait(timeout)
            raise CardTimeout(f"simulated reader needs {self.delay_s:.1f} s")
        self._closed.wait(self.delay_s)
        if self._script:
            outcome = self._script.popleft()
            if isinstance(outcome, CardReaderError):
                raise outcome
            return outcome
        if self.card is None:
            raise NoCard("no card in the reader")
        return self.card

    def health(self) -> DeviceHealth:
        return DeviceHealth("card", HealthState.OK, ErrorCode.CARD_SIMULATED,
                            "simulated card reader")

    def check(self) -> DeviceHealth:
        return self.health()

    def close(self) -> None:
        self._closed.set()
