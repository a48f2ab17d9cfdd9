"""Spoken guidance: every patient screen's prompt, said aloud in the patient's language.

``PromptPlayer`` listens to the runtime's ``FlowView`` snapshots (on the flow thread, so it
only decides there) and speaks on a worker thread of its own, one prompt at a time, through
``device.speaker.Speaker``. Its rules:

* the words are the screen's: the view's guidance (a fallback's reason first, the amount
  where the screen shows one) from the same catalogue the screens use (``kiosk.i18n``, Qt-free);
* a snapshot that changes nothing audible says nothing again;
* a new screen cuts the prompt playing short; new guidance on the same screen waits for it
  to finish and only the newest waiting prompt is spoken, so a flickering quality hint
  cannot chop every prompt off (a head-turn instruction does cut in: it has a deadline);
* the start screen speaks only when someone stands at it (the flow's greeting), never to an
  empty hall; every new patient starts in Chinese, as the screens do;
* ``replay`` (再听一遍) says the current prompt again; ``set_language`` says it in the new
  language at once.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from device.speaker import Speaker, Utterance
from kiosk.config import VoiceConfig
from kiosk.flow.machine import FlowView
from kiosk.flow.model import State
from kiosk.i18n import DEFAULT_LANG, LANGS, STRINGS, resolve

log = logging.getLogger(__name__)

HISTORY = 200  # utterances kept for the demo's summary and the tests
SILENT_IDLE = "idle.welcome"  # the attract screen's own text: nobody is listening yet
CUT_IN = frozenset({"liveness.turn_left", "liveness.turn_right", "liveness.look_straight"})
AMOUNT = "<amount>"  # a part that is only an amount: said after the text before it
END_MARKS = ("。", "！", "？", "…", ".", "!", "?", "：", ":")


@dataclass(frozen=True)
class Prompt:
    """What one screen says: its text keys (the first names the prompt) and the text."""

    keys: tuple[str, ...]
    lang: str
    text: str
    state: State

    @property
    def name(self) -> str:
        return self.keys[0]


class _Spoken(dict[str, str]):
    """A placeholder the view cannot fill is left out, never read aloud as a brace."""

    def __missing__(self, key: str) -> str:
        return ""


def say(key: str, lang: str, **params: str) -> str:
    """``key``'s text in ``lang`` as the screens have it, parameters filled in."""
    zh, en = STRINGS[resolve(key)]
    return (en if lang == "en" else zh).format_map(_Spoken(params)).strip()


def spoken_yuan(fen: int, lang: str) -> str:
    """Integer fen as a person says it: 12元3角4分 / 12.34 yuan (a "¥" is not read)."""
    yuan, rest = divmod(fen, 100)
    if lang == "en":
        return f"{yuan}.{rest:02d} yuan"
    jiao, cents = divmod(rest, 10)
    text = f"{yuan}元" if yuan or not rest else ""
    if jiao:
        text += f"{jiao}角"
    if cents:
        text += f"{'零' if yuan and not jiao else ''}{cents}分"
    return text


def prompt_keys(view: FlowView) -> list[tuple[str, dict[str, str]]]:
    """The text keys (with their parameters) a screen's prompt is made of; fen amounts are
    filled in later, per language."""
    if view.state == State.IDLE:
        keys = [] if view.guidance == SILENT_IDLE else [(view.guidance, {})]
        if not view.face_available and keys:
            keys.append(("face.camera_failed", {}))
        return keys
    if view.state == State.FALLBACK:
        return [(key, {}) for key in dict.fromkeys(filter(None, (view.reason, view.guidance)))]
    keys: list[tuple[str, dict[str, str]]] = [(view.guidance, {})]
    if view.state == State.SECOND_FACTOR:
        if view.guidance != "second_factor.enter_phone_digits":
            keys.append(("second_factor.enter_phone_digits", {}))
        if view.guidance == "second_factor.wrong_digits" and view.attempts_left:
            keys.append(("keypad.attempts_left", {"n": str(view.attempts_left)}))
    elif view.state == State.BILL_REVIEW and view.quote is not None:
        keys.append(("review.self_pay", {}))
        keys.append((AMOUNT, {"fen": str(view.quote.self_pay_fen)}))
    elif view.state == State.SETTLING:
        keys.append(("settling.do_not_leave", {}))
    elif view.state == State.DONE and view.result is not None:
        keys.append(("done.self_pay", {"fen": str(view.result.self_pay_fen)}))
        keys.append(("done.printing", {}))
    elif view.state == State.OWED and view.statement is not None:
        if view.statement.outstanding_fen:
            keys.append(("owed.total", {"fen": str(view.statement.outstanding_fen)}))
        if view.family:  # 亲情付: said once, after what the person owes themselves
            keys.append(("family.offer", {}))
    elif view.state in (State.REPAY_QR, State.REPAID) and view.repay_order is not None:
        keys.append(("repay.paid_amount" if view.state == State.REPAID else "repay.amount",
                     {"fen": str(view.repay_order.amount_fen)}))
    return keys


def prompt_for(view: FlowView, lang: str) -> Prompt | None:
    """The prompt for ``view`` in ``lang``; None for a screen that says nothing."""
    parts = prompt_keys(view)
    if not parts:
        return None
    sentences: list[str] = []
    for key, params in parts:
        if "fen" in params:
            amount = spoken_yuan(int(params["fen"]), lang)
            if key == AMOUNT:
                sentences[-1] += f" {amount}"
                continue
            params = {**params, "amount": amount}
        sentences.append(say(key, lang, **params))
    end = "." if lang == "en" else "。"
    text = (" " if lang == "en" else "").join(
        t if t.endswith(END_MARKS) else t + end for t in sentences if t)
    return Prompt(tuple(key for key, _ in parts if key != AMOUNT), lang, text, view.state)


class PromptPlayer:
    """Speaks the prompt of each screen the runtime shows; see the module's rules."""

    def __init__(self, speaker: Speaker, config: VoiceConfig) -> None:
        self.speaker = speaker
        self.config = config
        self.muted = config.mute
        self.spoken: deque[Utterance] = deque(maxlen=HISTORY)
        self._cond = threading.Condition()
        self._lang = DEFAULT_LANG
        self._view: FlowView | None = None
        self._current: Prompt | None = None  # the screen's prompt now (what replay says)
        self._pending: Prompt | None = None
        self._cancel: threading.Event | None = None  # the playing prompt's
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- lifecycle
    def start(self) -> PromptPlayer:
        self._thread = threading.Thread(target=self._run, name="kiosk-voice", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._pending = None
            if self._cancel is not None:
                self._cancel.set()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -------------------------------------------------------------- commands
    @property
    def lang(self) -> str:
        return self._lang

    def on_view(self, view: FlowView) -> None:
        """A runtime listener: cheap, never blocks the flow thread."""
        with self._cond:
            new_patient = view.state == State.IDLE and (
                self._view is not None and self._view.state != State.IDLE)
            if new_patient:
                self._lang = DEFAULT_LANG
            previous, self._view = self._view, view
            prompt = prompt_for(view, self._lang)
            if prompt == self._current:
                return
            self._current = prompt
            cut = (previous is None or previous.state != view.state
                   or (prompt is not None and prompt.name in CUT_IN))
            self._queue(prompt, cut=cut)

    def replay(self) -> None:
        """再听一遍: the current prompt again, from the start."""
        with self._cond:
            if self._current is not None:
                self._queue(self._current, cut=True)

    def set_language(self, lang: str) -> None:
        """The patient switched the screens' language: say the prompt in it now."""
        if lang not in LANGS:
            raise ValueError(f"language must be one of {', '.join(LANGS)}")
        with self._cond:
            if lang == self._lang:
                return
            self._lang = lang
            if self._view is not None:
                self._current = prompt_for(self._view, lang)
                self._queue(self._current, cut=True)

    def set_muted(self, muted: bool) -> None:
        with self._cond:
            self.muted = muted
            if muted:
                self._queue(None, cut=True)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is waiting or playing (for the demo and tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and self._cancel is None,
                                       timeout)

    # ---------------------------------------------------------------- worker
    def _queue(self, prompt: Prompt | None, *, cut: bool) -> None:
        """Under the lock: ``prompt`` is next (None: nothing); ``cut`` stops the one
        playing. Only the newest waiting prompt is kept."""
        self._pending = prompt if prompt is not None and not self.muted else None
        if cut and self._cancel is not None:
            self._cancel.set()
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping:
                    return
                prompt, self._pending = self._pending, None
                assert prompt is not None
                cancel = self._cancel = threading.Event()
            try:
                spoken = self.speaker.say(prompt.text, prompt.lang, volume=self.config.volume,
                                          name=prompt.name, cancel=cancel)
            except Exception:  # a broken engine must never stop the kiosk's voice for good
                log.exception("voice.failed", extra={"prompt": prompt.name})
                spoken = None
            with self._cond:
                if spoken is not None:
                    self.spoken.append(spoken)
                self._cancel = None
                self._cond.notify_all()
