"""Policy ``model``: manifest, digest check and runner, with a tiny ONNX graph built here.

No real PAD model can ship with the project; the graph below answers "live" in proportion to
the mean brightness of the crop it is given, which is enough to prove that the crop, the
normalisation, the output decoding and the decision all do what the manifest says.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from benchmarks.liveness.render import FRAME_SIZE, MEAN_FACE_5, pose_points, project, rotation
from kiosk.config import LivenessConfig
from kiosk.errors import ManifestError, ModelDigestMismatch, ModelError, ModelMissing
from kiosk.liveness import LivenessCheck, load_pad_model
from kiosk.liveness import result as r
from kiosk.recognition.detection import Detection

BOX = np.array([260.0, 160.0, 380.0, 320.0], np.float32)


def brightness_graph(path: Path, output: str, size: int = 32) -> None:
    """live logit = 20 * mean(input) - 10, spoof logit = its negative; optionally softmaxed."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])
    consts = [helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name, TensorProto.FLOAT if name != "shape" else TensorProto.INT64,
        [2] if name == "shape" else [], vals))
        for name, vals in (("k", [20.0]), ("b", [10.0]), ("shape", [1, 1]))]
    nodes = [
        *consts,
        helper.make_node("ReduceMean", ["input"], ["mean4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean4", "shape"], ["mean"]),
        helper.make_node("Mul", ["mean", "k"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "b"], ["live"]),
        helper.make_node("Neg", ["live"], ["spoof"]),
        helper.make_node("Concat", ["spoof", "live"],
                         ["scores" if output == "logits" else "logits"], axis=1),
    ]
    if output == "probabilities":
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1))
    graph = helper.make_graph(nodes, "brightness", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def write_manifest(tmp_path: Path, output: str = "logits", *, sha256: str | None = None,
                   live_index: int = 1, crop_scale: float = 1.0) -> Path:
    model = tmp_path / "store" / "pad" / "brightness.onnx"
    if not model.exists():
        brightness_graph(model, output)
    digest = sha256 or hashlib.sha256(model.read_bytes()).hexdigest()
    manifest = tmp_path / "pad.toml"
    manifest.write_text(f"""
id = "brightness-test"
name = "mean brightness (test graph)"
licence = "test"
[file]
path = "pad/brightness.onnx"
sha256 = "{digest}"
input_size = [32, 32]
channel_order = "RGB"
mean = [0.0, 0.0, 0.0]
std = [255.0, 255.0, 255.0]
[decision]
live_index = {live_index}
output = "{output}"
threshold = 0.8
crop_scale = {crop_scale}
""", encoding="utf-8")
    return manifest


def frame_with_face(inside: int, outside: int = 20) -> np.ndarray:
    frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), outside, np.uint8)
    x1, y1, x2, y2 = (int(v) for v in BOX)
    frame[y1:y2, x1:x2] = inside
    return frame


FACE = Detection(BOX, 0.9, np.array([[295, 215], [345, 215], [320, 245], [300, 275],
                                      [340, 275]], np.float32))


@pytest.mark.parametrize("output", ["logits", "probabilities"])
def test_the_score_comes_from_the_face_crop(tmp_path, output):
    pad = load_pad_model(write_manifest(tmp_path, output), tmp_path / "store")
    assert pad.live_score(frame_with_face(235), FACE) > 0.99  # mean 0.92 -> logit 8.4
    assert pad.live_score(frame_with_face(40), FACE) < 0.01
    assert pad.live_score(frame_with_face(235, outside=235), FACE) > 0.99


def test_crop_scale_widens_the_crop_around_the_box(tmp_path):
    pad = load_pad_model(write_manifest(tmp_path, crop_scale=3.0), tmp_path / "store")
    # the bright face is now a ninth of a mostly dark crop
    assert pad.live_score(frame_with_face(235), FACE) < 0.05
    assert pad.crop(frame_with_face(235), FACE).shape == (32, 32, 3)


def test_a_missing_file_is_named(tmp_path):
    manifest = write_manifest(tmp_path)
    (tmp_path / "store" / "pad" / "brightness.onnx").unlink()
    with pytest.raises(ModelMissing) as err:
        load_pad_model(manifest, tmp_path / "store")
    assert "brightness.onnx" in err.value.message and err.value.code == "model.missing"


def test_a_file_that_does_not_match_its_digest_is_refused(tmp_path):
    manifest = write_manifest(tmp_path, sha256="0" * 64)
    with pytest.raises(ModelDigestMismatch) as err:
        load_pad_model(manifest, tmp_path / "store")
    assert "brightness.onnx" in err.value.message and "pad.toml" in err.value.message


@pytest.mark.parametrize("key, line, expected", [
    ("sha256", "", "sha256 is required"),
    ("path", 'path = "/etc/pad.onnx"', "relative to the store"),
    ("mean", 'mean = "abc"', "[file]"),
    ("live_index", "live_index = -1", "live_index"),
    ("output", 'output = "votes"', "output must be"),
    ("threshold", "threshold = 1.5", "threshold"),
])
def test_manifest_mistakes_are_clear_errors(tmp_path, key, line, expected):
    manifest = write_manifest(tmp_path)
    lines = [line if old.startswith(f"{key} =") else old
             for old in manifest.read_text().splitlines()]
    manifest.write_text("\n".join(lines))
    with pytest.raises(ManifestError) as err:
        load_pad_model(manifest, tmp_path / "store")
    assert expected in err.value.message and "pad.toml" in err.value.message


def test_unreadable_manifest_names_the_file(tmp_path):
    bad = tmp_path / "pad.toml"
    bad.write_text("id = [unclosed")
    with pytest.raises(ManifestError) as err:
        load_pad_model(bad, tmp_path)
    assert "pad.toml" in err.value.message


def test_an_output_index_the_model_does_not_have_is_a_model_error(tmp_path):
    pad = load_pad_model(write_manifest(tmp_path, live_index=5), tmp_path / "store")
    with pytest.raises(ModelError) as err:
        pad.live_score(frame_with_face(200), FACE)
    assert "live_index 5" in err.value.message


def model_config(manifest: Path, requires_turn: bool) -> LivenessConfig:
    # the test frames are uniform: nothing for the texture test to track (test_texture.py)
    return LivenessConfig(policy="model", model_manifest=str(manifest),
                          model_requires_turn=requires_turn, texture_check=False)


@pytest.mark.parametrize("inside, status, reason", [(235, r.PASSED, None),
                                                    (40, r.FAILED, r.MODEL_REJECTED)])
def test_model_policy_alone_decides_on_the_mean_score(tmp_path, inside, status, reason):
    manifest = write_manifest(tmp_path)
    pad = load_pad_model(manifest, tmp_path / "store")
    check = LivenessCheck(model_config(manifest, False), FRAME_SIZE, pad_model=pad)
    results = [check.feed(i / 15, FACE, frame_with_face(inside)) for i in range(3)]
    assert [x.status for x in results[:2]] == [r.PENDING, r.PENDING]
    assert (results[2].status, results[2].reason) == (status, reason)
    assert results[2].evidence["model"] == "brightness-test"
    assert (results[2].evidence["model_score"] > 0.99) == (status == r.PASSED)


@pytest.mark.parametrize("inside, reason", [(235, None), (40, r.MODEL_REJECTED)])
def test_model_policy_with_the_turn_needs_both(tmp_path, inside, reason):
    manifest = write_manifest(tmp_path)
    pad = load_pad_model(manifest, tmp_path / "store")
    check = LivenessCheck(model_config(manifest, True), FRAME_SIZE, pad_model=pad,
                          challenge="turn_left")
    prompt_at, t = None, 0.0
    while True:
        turned = 0.0 if prompt_at is None else 25.0 * min(1.0, max(0.0, t - prompt_at - 0.6))
        landmarks = project(pose_points(MEAN_FACE_5, rotation(turned), np.array([0, 0, 500.0]),
                                        95.0))
        result = check.feed(t, Detection(BOX, 0.9, landmarks), frame_with_face(inside))
        if result.done:
            break
        if prompt_at is None and result.guidance == r.TURN_LEFT:
            prompt_at = t
        t += 1 / 15
    assert result.reason == reason
    assert result.evidence["parallax"] >= LivenessConfig().min_parallax  # the turn was real
