"""Large type and high contrast for the patient screens; elderly mode makes everything larger.

Sizes follow the screen's shorter side, so the same layout reads well on a 1024x768 kiosk and
on a 1080x1920 portrait totem. Colours: white on deep navy (about 16:1), black on yellow for
the one action that matters on each screen (about 14:1).
"""

from __future__ import annotations

from dataclasses import dataclass

BACKGROUND = "#0A1A33"
PANEL = "#132A4D"
LINE = "#3A5A8C"
TEXT = "#FFFFFF"
MUTED = "#D2DEF0"
ACCENT = "#FFD400"
ACCENT_TEXT = "#000000"
WARN = "#FFB74D"
GOOD = "#7CE38B"
BAD = "#FF8A80"
DISABLED = "#8C9CB5"  # about 5:1 on the panel: unavailable, still readable (edge dashed)

ELDERLY_SCALE = 1.5  # every text in large-text mode: at least 1.5x (MIIT age-friendly rules)
MIN_BASE_PX = 16
# Body text is 30 px on a 768 px short side (MIIT: main text at least 30 px there) and grows
# with the screen: 42 px on a 1080 px one.
SHORT_SIDE_PER_BASE_PX = 25.6
TARGET_PX_AT_768 = 60  # the smallest thing a finger must hit, on a 768 px short side

# Font size of each text role, relative to the body size. Headings stand out by weight more
# than by size: at 30 px body (45 px in large-text mode) a 2x title leaves no room.
ROLE_SCALE = {
    "small": 0.75,
    "body": 1.0,
    "button": 1.0,
    "guidance": 1.2,
    "title": 1.35,
    "money": 1.5,
    "hero": 1.6,
}
# In large-text mode body text grows 1.5x and headings less (each still at least 1.25x, and
# never smaller than the body): what grows is what was small.
ELDERLY_ROLE_SCALE = {**ROLE_SCALE, "guidance": 1.1, "title": 1.2, "money": 1.3, "hero": 1.35}


@dataclass(frozen=True)
class Theme:
    base_px: int
    elderly: bool = False

    @property
    def body_px(self) -> int:
        return round(self.base_px * (ELDERLY_SCALE if self.elderly else 1.0))

    def px(self, role: str) -> int:
        scale = ELDERLY_ROLE_SCALE if self.elderly else ROLE_SCALE
        return round(self.body_px * scale.get(role, 1.0))

    @property
    def target_px(self) -> int:
        """A finger's target: 60 px on a 768 px short side, scaled with the screen."""
        return round(self.base_px * TARGET_PX_AT_768 / 30)

    @property
    def touch_px(self) -> int:
        """Minimum height of anything a finger must hit: a finger's target, and room for
        one line of its caption."""
        return max(self.target_px, round(self.px("button") * 1.6))

    @property
    def chrome_px(self) -> int:
        """The top bar's switches: as small as a finger allows, so the bar stays one row."""
        return max(self.target_px, round(self.px("small") * 1.5))

    @property
    def scrollbar_px(self) -> int:
        """A scroll bar a finger can drag: its thumb is a finger wide."""
        return round(self.target_px * 0.8)

    def stylesheet(self) -> str:
        pad = max(6, self.body_px // 3)
        radius = max(6, self.body_px // 2)
        roles = "\n".join(
            f'QLabel[role="{role}"] {{ font-size: {self.px(role)}px; }}' for role in ROLE_SCALE)
        return f"""
QWidget#kiosk {{ background: {BACKGROUND}; }}
QWidget {{ color: {TEXT}; font-size: {self.body_px}px; }}
QLabel {{ background: transparent; }}
{roles}
QLabel[role="title"], QLabel[role="hero"] {{ font-weight: bold; }}
QLabel[role="money"] {{ color: {ACCENT}; font-weight: bold; }}
QLabel[tone="muted"] {{ color: {MUTED}; }}
QLabel[tone="warn"] {{ color: {WARN}; }}
QLabel[tone="bad"] {{ color: {BAD}; }}
QLabel[tone="good"] {{ color: {GOOD}; }}
QFrame[panel="true"] {{ background: {PANEL}; border: 2px solid {LINE};
    border-radius: {radius}px; }}
QPushButton {{ font-size: {self.px("button")}px; min-height: {self.touch_px}px;
    padding: 0 {pad * 2}px; border-radius: {radius}px; color: {TEXT};
    background: {PANEL}; border: 3px solid {MUTED}; }}
QPushButton:pressed {{ background: {LINE}; }}
QPushButton:disabled {{ color: {DISABLED}; border-color: #4A5D7C; border-style: dashed; }}
QPushButton[role="primary"] {{ background: {ACCENT}; color: {ACCENT_TEXT};
    border: 3px solid {ACCENT}; font-weight: bold; }}
QPushButton[role="primary"]:disabled {{ background: #6B6230; color: #2A2A2A;
    border-color: #6B6230; }}
QPushButton[role="tile"] {{ padding: 0; }}
QPushButton[role="tile"][active="true"] {{ border-color: {ACCENT}; }}
QLabel[role="tile"] {{ font-size: {self.px("button")}px; font-weight: bold; }}
QLabel[role="tile"][active="true"] {{ color: {ACCENT}; }}
QLabel[role="tile"]:disabled {{ color: {DISABLED}; }}
QPushButton[role="tile"][active="true"]:disabled {{ border-color: {ACCENT};
    border-style: solid; }}
QLabel[role="tile"][active="true"]:disabled {{ color: {ACCENT}; }}
QPushButton[role="key"] {{ font-size: {self.px("title")}px; font-weight: bold;
    min-height: {self.target_px}px; }}
QPushButton[role="chrome"] {{ font-size: {self.px("small")}px; padding: 0 {pad}px;
    min-height: {self.chrome_px}px; min-width: {self.chrome_px}px; }}
QProgressBar {{ border: 2px solid {MUTED}; border-radius: {radius}px; background: {PANEL};
    max-height: {self.body_px}px; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QScrollArea {{ background: transparent; border: none; }}
QScrollBar:vertical {{ width: {self.scrollbar_px}px; background: {PANEL};
    border: 2px solid {LINE}; border-radius: {self.scrollbar_px // 2}px; margin: 0; }}
QScrollBar::handle:vertical {{ background: {MUTED}; border-radius: {self.scrollbar_px // 2 - 4}px;
    min-height: {self.target_px * 3 // 2}px; margin: 4px; }}
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{ height: 0; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}
"""


def theme_for(width: int, height: int, elderly: bool = False) -> Theme:
    """The theme for a window of this size."""
    return Theme(base_px=max(MIN_BASE_PX, round(min(width, height) / SHORT_SIDE_PER_BASE_PX)),
                 elderly=elderly)
