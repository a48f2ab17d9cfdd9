"""The hand-off queue's bookkeeping between polls: which rows are new (so the console can
sound and highlight them), how long each patient has waited; resolved and dismissed ones
(closed on the platform, by any counter) leave the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kiosk.counter.service import CounterHandoff
from kiosk.protocol.schemas import DismissReason, HandoffState, ResolveOutcome

# fixed codes, so a close is audited without any free text about a patient
DISMISS_REASONS = tuple(DismissReason)
RESOLVE_OUTCOMES = tuple(ResolveOutcome)
CLOSED = frozenset({HandoffState.RESOLVED, HandoffState.DISMISSED})


class HandoffQueue:
    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.now = now
        self.rows: list[CounterHandoff] = []
        self._seen: dict[str, int] = {}  # id -> count when last seen
        self._loaded = False

    def update(self, handoffs: list[CounterHandoff]) -> list[str]:
        """Take the platform's list; returns the ids of open rows that are new, or merged
        another session since the last update (none on the first load: nothing *arrived*)."""
        live = [h for h in handoffs if h.state not in CLOSED]
        fresh = [h.handoff_id for h in live if not h.taken_by
                 and self._seen.get(h.handoff_id, 0) < h.count] if self._loaded else []
        self._seen = {h.handoff_id: h.count for h in live}
        self._loaded = True
        self.rows = live
        return fresh

    def closed(self, handoff: CounterHandoff) -> None:
        """This console closed it: gone at once, not only at the next poll."""
        self.rows = [h for h in self.rows if h.handoff_id != handoff.handoff_id]

    def waited_s(self, handoff: CounterHandoff) -> int:
        """Since the first session was handed over (a merged row's patient waited longest)."""
        return max(0, int((self.now() - handoff.at).total_seconds()))

    def clear(self) -> None:
        self.rows, self._seen, self._loaded = [], {}, False
