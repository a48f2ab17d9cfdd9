"""Real-time status replies (ESC/POS ``DLE EOT n``) turned into what the kiosk acts on.

python-escpos's ``paper_status()`` answers "plenty of paper" when the printer does not reply
at all, which would hide an unplugged printer; so the raw replies are interpreted here with the
library's masks and "no reply" is its own outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from escpos.constants import RT_MASK_LOWPAPER, RT_MASK_NOPAPER, RT_MASK_ONLINE

Paper = Literal["ok", "low", "out", "unknown"]


@dataclass(frozen=True)
class PrinterStatus:
    online: bool | None  # None: the link cannot report status (file / write-only device)
    paper: Paper

    def to_dict(self) -> dict[str, object]:
        return {"online": self.online, "paper": self.paper}


UNKNOWN = PrinterStatus(online=None, paper="unknown")


def online_from_reply(reply: bytes) -> bool:
    """DLE EOT 1 reply: bit 3 set means off-line."""
    return bool(reply) and not reply[0] & RT_MASK_ONLINE


def paper_from_reply(reply: bytes) -> Paper:
    """DLE EOT 4 reply: bits 5-6 paper end, bits 2-3 near end (bits 1 and 4 are always 1)."""
    if not reply:
        return "unknown"
    if reply[0] & RT_MASK_NOPAPER == RT_MASK_NOPAPER:
        return "out"
    if reply[0] & RT_MASK_LOWPAPER == RT_MASK_LOWPAPER:
        return "low"
    return "ok"
