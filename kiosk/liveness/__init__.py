"""Liveness (presentation-attack detection) for face pay: is a live person in front of the
camera, or a photo, a screen, a replay? Pure logic over landmarks and frames; the checkout
flow feeds it. How it works and what it does not stop: docs/liveness.md."""

from kiosk.liveness.check import CHALLENGES, LivenessCheck
from kiosk.liveness.pad_model import PadModel, load_pad_model
from kiosk.liveness.result import LivenessInputError, LivenessResult

__all__ = ["CHALLENGES", "LivenessCheck", "LivenessInputError", "LivenessResult", "PadModel",
           "load_pad_model"]
