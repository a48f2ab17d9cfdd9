"""Errors: something the patient cannot fix (the platform is unreachable, credit exceeded, no
bills, an expired voucher...). Plain words first, the way forward, and the code for staff.
When the platform itself is in trouble a card or QR would fail the same way, so only the
cashier (or later) is offered."""

from __future__ import annotations

from ui.i18n import SYSTEM_FAULTS
from ui.screens.fallback import ALL_WAYS, FallbackScreen

PLATFORM_DOWN = ("backend.", "settlement.unconfirmed", *SYSTEM_FAULTS)
CASHIER_OR_LATER = ("fallback.option_cashier", "fallback.option_later")


class ErrorScreen(FallbackScreen):
    title_key = "error.title"

    def ways_forward(self, reason: str) -> tuple[str, ...]:
        return CASHIER_OR_LATER if reason.startswith(PLATFORM_DOWN) else ALL_WAYS
