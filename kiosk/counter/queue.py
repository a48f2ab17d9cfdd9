"""The hand-off queue's bookkeeping between polls: which rows are new (so the console can
sound and highlight them), how long each patient has waited, and the rows dismissed here.

Dismissal is local to this console (the platform has no endpoint for it yet): the row is
hidden on this counter only, and the dismissal is logged with its reason code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from kiosk.counter.service import Handoff

log = logging.getLogger(__name__)

# Fixed reasons, so a dismissal can be logged without any free text about a patient.
DISMISS_REASONS = ("left", "duplicate", "handled_elsewhere", "test")


class HandoffQueue:
    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.now = now
        self.rows: list[Handoff] = []
        self._seen: dict[str, int] = {}  # id -> count when last seen
        self._dismissed: dict[str, int] = {}  # id -> count when dismissed
        self._loaded = False

    def update(self, handoffs: list[Handoff]) -> list[str]:
        """Take the platform's list; returns the ids of open rows that are new, or merged
        another session since the last update (none on the first load: nothing *arrived*)."""
        fresh = [h.handoff_id for h in handoffs if not h.taken_by
                 and self._seen.get(h.handoff_id, 0) < h.count] if self._loaded else []
        self._seen = {h.handoff_id: h.count for h in handoffs}
        self._loaded = True
        # a dismissed row comes back when another session is merged into it
        self._dismissed = {i: n for i, n in self._dismissed.items() if self._seen.get(i) == n}
        self.rows = [h for h in handoffs if h.handoff_id not in self._dismissed]
        return [i for i in fresh if i not in self._dismissed]

    def dismiss(self, handoff_id: str, reason: str) -> None:
        if reason not in DISMISS_REASONS:
            raise ValueError(f"dismiss reason must be one of {', '.join(DISMISS_REASONS)}")
        count = self._seen.get(handoff_id, 1)
        self._dismissed[handoff_id] = count
        self.rows = [h for h in self.rows if h.handoff_id != handoff_id]
        log.info("cashier.handoff_dismissed", extra={"handoff_id": handoff_id,
                                                     "reason": reason, "scope": "local"})

    def waited_s(self, handoff: Handoff) -> int:
        """Since the first session was handed over (a merged row's patient waited longest)."""
        return max(0, int((self.now() - handoff.at).total_seconds()))

    def clear(self) -> None:
        self.rows, self._seen, self._dismissed, self._loaded = [], {}, {}, False
