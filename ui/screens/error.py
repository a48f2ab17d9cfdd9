"""Errors: something the patient cannot fix here (the platform unreachable, credit refused,
a card not opened for credit pay, a payment not yet confirmed...). The same screen as the
fallback under another title: plain words first, the ways forward that work for that
reason, and the code for staff."""

from __future__ import annotations

from ui.screens.fallback import FallbackScreen


class ErrorScreen(FallbackScreen):
    title_key = "error.title"
