"""Liveness: the same preview, with the head-turn prompt large and an arrow to follow."""

from __future__ import annotations

from kiosk.flow.machine import FlowView
from ui.screens.base import set_style_property
from ui.screens.scan import ScanScreen

# The preview is a mirror: the patient's left is the screen's left.
ARROWS = {"liveness.turn_left": "←", "liveness.turn_right": "→"}


class LivenessScreen(ScanScreen):
    title_key = "liveness.title"

    def hint_text(self, view: FlowView) -> str:
        return ARROWS.get(view.guidance, "")

    def render(self, view: FlowView) -> None:
        super().render(view)
        set_style_property(self.hint, "role", "hero" if view.guidance in ARROWS else "body")
