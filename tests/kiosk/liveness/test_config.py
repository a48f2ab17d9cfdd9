"""LivenessConfig: safe defaults, and every bad value named by its key."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.config import LIVENESS_POLICIES, LivenessConfig


def test_defaults_are_valid_and_production_safe():
    cfg = LivenessConfig()
    assert cfg.validate() == []
    assert cfg.policy == "active" and cfg.screen_check and cfg.texture_check
    assert LIVENESS_POLICIES == ("off", "active", "model")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.policy = "off"  # type: ignore[misc]


@pytest.mark.parametrize("changes, key", [
    ({"policy": "maybe"}, "policy"),
    ({"policy": "model"}, "model_manifest"),
    ({"max_duration_s": 0.0}, "max_duration_s"),
    ({"max_gap_s": -1.0}, "max_gap_s"),
    ({"min_response_s": 7.0}, "min_response_s"),
    ({"min_turn_deg": 0.0}, "min_turn_deg"),
    ({"frontal_max_yaw_deg": 45.0}, "frontal_max_yaw_deg"),
    ({"max_turn_deg": 90.0}, "min_turn_deg"),
    ({"wrong_direction_deg": 0.0}, "wrong_direction_deg"),
    ({"reference_frames": 0}, "reference_frames"),
    ({"turned_frames": 31}, "turned_frames"),
    ({"min_parallax": 1.5}, "min_parallax"),
    ({"min_texture_parallax": -0.1}, "min_texture_parallax"),
    ({"min_identity_similarity": 2.0}, "min_identity_similarity"),
    ({"max_moire": 0.5}, "max_moire"),
    ({"max_glare": 0.0}, "max_glare"),
])
def test_bad_values_name_their_key(changes, key):
    errors = dataclasses.replace(LivenessConfig(), **changes).validate()
    assert key in [k for k, _ in errors], errors
    assert all(message for _, message in errors)


def test_model_policy_with_a_manifest_is_valid():
    assert LivenessConfig(policy="model", model_manifest="pad/minifasnet.toml").validate() == []
