"""The card-reader seam: what the kiosk needs from any insurance / social-security card reader.

Real readers come with vendor SDKs (often a C library behind a ctypes wrapper). To add one,
subclass ``CardReader`` in your own package and name it in the config as
``driver = "python:package.module:ClassName"``; it is constructed with the
``CardReaderConfig``. Nothing else in the kiosk changes.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass

from common.errors import ErrorCode
from common.privacy import mask_name, mask_number
from device.config import CARD_NO
from device.errors import CardDataError
from device.health import DeviceHealth

MAX_NAME = 64


@dataclass(frozen=True)
class CardData:
    """What the reader gives: the card number and the insured person's name.

    ``repr`` is masked because dataclass reprs end up in logs and tracebacks.
    """

    card_no: str
    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.card_no, str) or not CARD_NO.match(self.card_no):
            raise CardDataError("card number must be 6-32 characters 0-9 / A-Z",
                                code=ErrorCode.CARD_DATA_INVALID)
        if (not isinstance(self.name, str) or not 1 <= len(self.name) <= MAX_NAME
                or self.name != self.name.strip()
                or any(unicodedata.category(c) in ("Cc", "Cf") for c in self.name)):
            raise CardDataError("card holder name is empty, too long or has control characters",
                                code=ErrorCode.CARD_DATA_INVALID)

    def masked(self) -> dict[str, str]:
        return {"card_no": mask_number(self.card_no), "name": mask_name(self.name)}

    def __repr__(self) -> str:
        m = self.masked()
        return f"CardData(card_no={m['card_no']!r}, name={m['name']!r})"


class CardReader(ABC):
    device = "card"

    @abstractmethod
    def read_card(self, timeout: float | None = None) -> CardData:
        """Read the inserted card. Raises ``NoCard``, ``CardTimeout``,
        ``CardReaderUnavailable`` or ``CardDataError``; never returns partial data."""

    @abstractmethod
    def health(self) -> DeviceHealth:
        """Cheap: the state seen at the last operation."""

    @abstractmethod
    def check(self) -> DeviceHealth:
        """Active: talk to the reader now (for IT's ``kiosk devices`` and start-up)."""

    @abstractmethod
    def close(self) -> None: ...
