"""Age-friendly figures (issue 13 item 7, after the MIIT rules for age-friendly apps),
measured on the rendered window: every sample view at 1024x768 and 1080x1920, in Chinese and
English, normal and large text. Contrast >= 4.5:1 on the painted colours, tap targets >= 60 px
at 768 px (scaled), main text >= 30 px at 768 px and >= 1.5x that in large-text mode, no title
with one character alone on its last line, a finger-wide scroll thumb on a long bill; and the
measuring itself catches what it is meant to."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtWidgets import QLabel, QPushButton

from kiosk.flow.model import BillLine
from kiosk.i18n import tr
from ui import age_friendly, theme
from ui.preview_views import QUOTE, RecordingPort, sample_views
from ui.screens.base import HeadingLabel, last_line_length
from ui.screenshots import SIZES, layout_problems, pump, show_view

AGE_SIZES = ("1024x768", "1080x1920")


@pytest.fixture
def port() -> RecordingPort:
    return RecordingPort()


def _show(window, view, size: str, lang: str, elderly: bool) -> None:
    window.render(view)  # a return to idle resets language and text size
    window.set_language(lang)
    window.set_elderly(elderly)
    show_view(window, view, SIZES[size])


@pytest.mark.parametrize("size", AGE_SIZES)
def test_every_screen_meets_the_age_friendly_figures(make_window, port, size):
    window = make_window(port, SIZES[size])
    scale = min(SIZES[size]) / 768
    for lang in ("zh", "en"):
        for elderly in (False, True):
            smallest = {"text_px": 10_000.0, "target_px": 10_000.0, "contrast": 100.0}
            for name, view in sample_views().items():
                _show(window, view, size, lang, elderly)
                assert age_friendly.problems(window, elderly) == [], (name, lang, elderly)
                for key, value in age_friendly.figures(window).items():
                    smallest[key] = min(smallest[key], value)
            text = age_friendly.MAIN_TEXT_PX_AT_768 * scale * (1.5 if elderly else 1.0)
            assert smallest["text_px"] >= text - 0.5, (lang, elderly, smallest)
            assert smallest["target_px"] >= age_friendly.TARGET_PX_AT_768 * scale - 0.5
            assert smallest["contrast"] >= age_friendly.MIN_CONTRAST


def test_large_text_is_at_least_one_and_a_half_times():
    for short in (768, 1080):
        normal = theme.theme_for(short * 4 // 3, short)
        large = theme.theme_for(short * 4 // 3, short, elderly=True)
        assert normal.body_px >= 30 * short / 768 - 0.5
        assert large.body_px >= 1.5 * normal.body_px - 0.5
        for role in theme.ROLE_SCALE:  # every text grows, none below the body
            assert large.px(role) >= 1.25 * normal.px(role) - 0.5, role
            if role != "small":
                assert large.px(role) >= large.body_px


def test_colour_is_never_the_only_cue(make_window, port):
    window = make_window(port)
    for lang in ("zh", "en"):
        _show(window, sample_views()["07-bill-review"], "1024x768", lang, False)
        face = window.tiles["face"]
        assert face.caption.text() == tr("ui.in_use", lang, method=tr("ui.pay_face", lang))
        assert face.caption.text().startswith("✓")  # in use: a mark, not only yellow
        disabled = window.tiles["card"]
        assert not disabled.isEnabled()
        assert "dashed" in window.styleSheet()  # unavailable: a dashed edge, not only grey
    _show(window, sample_views()["02-scan-too-far"], "1024x768", "zh", False)
    guidance = window.screens["scan"].guidance
    assert guidance.property("tone") == "warn" and guidance.text() == tr("quality.too_far")


def test_long_bills_scroll_with_a_finger_wide_thumb(make_window, port):
    lines = tuple(BillLine(f"检查项目 {i + 1}", "exam", 1_000) for i in range(14))
    quote = dataclasses.replace(QUOTE, lines=lines, total_fen=14_000)
    view = dataclasses.replace(sample_views()["07-bill-review"], quote=quote)
    for size in AGE_SIZES:
        window = make_window(port, SIZES[size])
        for elderly in (False, True):
            _show(window, view, size, "zh", elderly)
            review = window.screens["bill_review"]
            bar = review.scroll.verticalScrollBar()
            assert bar.isVisible() and bar.maximum() > 0, (size, elderly)  # it scrolls
            target = age_friendly.TARGET_PX_AT_768 * min(SIZES[size]) / 768
            assert bar.width() >= 0.75 * target - 0.5
            assert age_friendly.problems(window, elderly) == []
            assert layout_problems(window) == []
            texts = [w.text() for w in review.cells()]
            assert "检查项目 14" in texts and review.total.text() == "¥140.00"


def test_category_sits_under_its_line_apart_from_the_amount(make_window, port):
    window = make_window(port)
    _show(window, sample_views()["07-bill-review"], "1024x768", "en", True)
    review = window.screens["bill_review"]
    cells = {w.text(): w for w in review.cells()}
    category, amount = cells[tr("item.exam", "en")], cells["¥25.00"]
    gap = category.geometry().intersected(amount.geometry())
    assert gap.isEmpty()  # never touching
    assert category.geometry().top() >= cells["血常规（五分类）"].geometry().bottom()


def test_portrait_uses_its_height(make_window, port):
    window = make_window(port, SIZES["1080x1920"])
    _show(window, sample_views()["07-bill-review"], "1080x1920", "zh", False)
    review = window.screens["bill_review"]
    assert review.scroll.height() > window.height() * 0.35  # the bill, not empty space
    tile = window.tiles["face"]
    assert tile.height() >= window.theme.touch_px * 1.4  # taller tiles on a totem
    landscape = make_window(RecordingPort(), SIZES["1024x768"])
    _show(landscape, sample_views()["07-bill-review"], "1024x768", "zh", False)
    assert landscape.tiles["face"].height() < tile.height()


def test_top_bar_stays_one_row(make_window, port):
    for size in SIZES:
        window = make_window(port, SIZES[size])
        for lang in ("zh", "en"):
            for elderly in (False, True):
                _show(window, sample_views()["07-bill-review"], size, lang, elderly)
                row = [w for w in (window.hospital_label, window.countdown,
                                   window.replay_button, window.elderly_button,
                                   window.lang_button) if w.isVisible()]
                tops = {w.geometry().center().y() for w in row}
                assert max(tops) - min(tops) <= 2, (size, lang, elderly)
                assert window.countdown.text()  # says the time left, shorter if need be
                assert layout_problems(window) == [], (size, lang, elderly)


def test_the_measuring_catches_what_it_should(make_window, port):
    window = make_window(port)
    not_called = dataclasses.replace(sample_views()["11-fallback-not-recognised"],
                                     cashier_called=False)  # its next-step line is shown
    _show(window, not_called, "1024x768", "zh", False)
    screen = window.screens["fallback"]
    screen.message.setStyleSheet("color: #3A4A66;")  # dark grey on navy
    small = QPushButton("x", screen)
    small.setStyleSheet("min-height: 0; min-width: 0; padding: 0;")
    small.setGeometry(0, 0, 40, 40)
    small.show()
    screen.next_step.setStyleSheet("font-size: 20px;")
    pump(0)
    found = age_friendly.problems(window, elderly=False)
    assert any("contrast" in p for p in found)
    assert any("tap target" in p and "40x40" in p for p in found)
    assert any("20 px < 30 px" in p for p in found), found
    assert any("< 45 px" in p for p in age_friendly.problems(window, elderly=True))
    widow = QLabel("已记录，网络恢复后自动确认", screen)
    widow.setProperty("role", "title")
    widow.setWordWrap(True)
    widow.setStyleSheet("font-size: 40px;")
    widow.show()
    pump(0)
    for width in range(200, 600, 5):  # some width leaves 认 alone: it is caught
        widow.resize(width, 400)
        if last_line_length(widow.text(), widow.font(), widow.contentsRect().width())[1] == 1:
            assert age_friendly.lone_character_line(widow)
            break
    else:
        pytest.fail("no width left one character alone")


def test_headings_never_leave_one_character_alone(qtbot):
    label = HeadingLabel()
    qtbot.addWidget(label)
    label.setWordWrap(True)
    label.setStyleSheet("font-size: 40px;")
    label.setText("已记录，网络恢复后自动确认")
    label.show()
    for width in range(200, 800, 3):
        label.resize(width, 400)
        assert not age_friendly.lone_character_line(label), width
        assert label.text() == "已记录，网络恢复后自动确认"  # words unchanged, only where they wrap
