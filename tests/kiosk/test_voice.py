"""The prompt player's rules, fed FlowView snapshots as the runtime sends them, speaking
through the real espeak-ng into a paced wav-dir speaker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from common.config_loader import ConfigError
from device.config import SpeakerConfig
from device.speaker import Speaker
from kiosk.config import VoiceConfig, parse_config
from kiosk.flow.machine import FlowView
from kiosk.flow.model import KioskQuote, SettlementResult, State
from kiosk.voice import PromptPlayer, prompt_for, spoken_yuan

FAST_WPM = 450
QUOTE = KioskQuote("q1", ("b1",), (), 10_000, (("basic_pool", 8_766), ("self_pay", 1_234)),
                   1_234, 100_000)


@pytest.fixture
def player(tmp_path: Path):
    # the fastest speech the config allows: the rules are about order, not speed
    speaker = Speaker(SpeakerConfig(driver="wav-dir", path=str(tmp_path), pace=True,
                                    rate_wpm=FAST_WPM))
    player = PromptPlayer(speaker, VoiceConfig()).start()
    yield player
    player.stop()


def names(player: PromptPlayer) -> list[tuple[str, str, bool]]:
    return [(u.name, u.lang, u.interrupted) for u in player.spoken]


def test_same_prompt_is_said_once_and_a_new_screen_cuts_in(player):
    searching = FlowView(State.SEARCHING, "searching.look_at_screen", seconds_left=30)
    player.on_view(searching)
    time.sleep(0.3)
    for left in (29, 28, 27):  # countdown-only snapshots say nothing again
        player.on_view(FlowView(State.SEARCHING, "searching.look_at_screen", seconds_left=left))
    player.on_view(FlowView(State.LOOKING_UP, "lookup.please_wait"))
    assert player.wait_idle(15)
    assert names(player) == [("searching.look_at_screen", "zh", True),
                             ("lookup.please_wait", "zh", False)]


def test_new_guidance_on_the_same_screen_waits_and_only_the_newest_is_said(player):
    for key in ("quality.too_far", "quality.not_frontal", "quality.too_dark",
                "searching.hold_still"):
        player.on_view(FlowView(State.SEARCHING, key))
        time.sleep(0.05)
    assert player.wait_idle(20)
    assert names(player) == [("quality.too_far", "zh", False),
                             ("searching.hold_still", "zh", False)]
    spoken = list(player.spoken)
    assert spoken[1].started >= spoken[0].ended


def test_language_switch_says_it_again_and_a_new_patient_starts_in_chinese(player):
    review = FlowView(State.BILL_REVIEW, "review.check_and_confirm", quote=QUOTE)
    player.on_view(review)
    time.sleep(0.2)
    player.set_language("en")
    assert player.wait_idle(20)
    player.replay()
    assert player.wait_idle(20)
    player.on_view(FlowView(State.IDLE, "idle.welcome"))  # nobody listens: nothing said
    player.on_view(FlowView(State.IDLE, "idle.greet"))  # someone walks up
    assert player.wait_idle(20)
    assert [n[:2] for n in names(player)] == [
        ("review.check_and_confirm", "zh"), ("review.check_and_confirm", "en"),
        ("review.check_and_confirm", "en"), ("idle.greet", "zh")]
    assert player.lang == "zh"


def test_prompts_carry_the_screens_amounts_as_spoken_money():
    assert [spoken_yuan(f, "zh") for f in (0, 5, 50, 105, 1_230, 1_234, 38_950)] == [
        "0元", "5分", "5角", "1元零5分", "12元3角", "12元3角4分", "389元5角"]
    assert spoken_yuan(1_234, "en") == "12.34 yuan"
    review = prompt_for(FlowView(State.BILL_REVIEW, "review.check_and_confirm",
                                 quote=QUOTE), "zh")
    assert review is not None and review.text.endswith("个人自付（记入信用账户） 12元3角4分。")
    done = prompt_for(FlowView(State.DONE, "done.paid",
                               result=SettlementResult("stl_1", "settled", 1_234)), "en")
    assert done is not None and "You paid 12.34 yuan" in done.text and "¥" not in done.text
    fallback = prompt_for(FlowView(State.FALLBACK, "fallback.staff_coming",
                                   reason="face.not_recognised"), "zh")
    assert fallback is not None and fallback.keys == ("face.not_recognised",
                                                      "fallback.staff_coming")
    assert prompt_for(FlowView(State.IDLE, "idle.welcome"), "zh") is None


def test_voice_config_is_validated():
    assert parse_config("[voice]\nvolume = 35\nmute = true\n").voice == VoiceConfig(
        volume=35, mute=True)
    with pytest.raises(ConfigError, match=r"voice\.volume"):
        parse_config("[voice]\nvolume = 130\n")
    with pytest.raises(ConfigError, match=r"devices\.speaker\.path"):
        parse_config('[devices.speaker]\ndriver = "wav-dir"\n')
