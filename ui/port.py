"""What the patient screens need from the kiosk core: ``kiosk.runtime.KioskRuntime`` fits it.

Commands are fire-and-forget and thread-safe (they are queued to the flow thread); the screens
learn what happened only from the ``FlowView`` snapshots they subscribed to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from kiosk.flow.machine import FlowView


class KioskPort(Protocol):
    def start_face(self) -> None: ...

    def confirm(self) -> None: ...

    def cancel(self) -> None: ...

    def call_cashier(self) -> None: ...

    def enter_digits(self, digits: str) -> None: ...

    def card_read(self, card_no: str) -> None: ...

    def voucher_scanned(self, payload: str) -> None: ...

    def set_elderly(self, on: bool) -> None: ...

    def replay_prompt(self) -> None: ...

    def set_language(self, lang: str) -> None: ...

    def subscribe(self, listener: Callable[[FlowView], None]) -> None: ...

    def subscribe_preview(self, listener: Callable[[np.ndarray, Any], None]) -> None: ...
