"""Turn block-quantised ONNX graphs into plain float32 graphs ONNX Runtime accepts.

The OpenCV Zoo int8 "bq" files store weights as ``DequantizeLinear`` nodes with a
``block_size`` attribute, which ONNX Runtime's CPU kernels reject. Every such node whose inputs
are all constants is evaluated once here and replaced by a float32 initializer, so the graph
ORT sees is an ordinary float model (same maths, ~4x larger on disk).

``rewrite_prelu`` then trades each PRelu, which ONNX Runtime neither fuses nor runs in its
blocked (NCHWc) layout, for depthwise 1x1 convolutions and Relu, which it does: SFace ~1.8x
faster than with PRelu, embeddings within 5e-7 (benchmarks/recognition.py).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from kiosk.errors import ModelInstallError


def _expand_blocks(param: np.ndarray, axis: int, block: int, length: int) -> np.ndarray:
    return np.repeat(param, block, axis=axis).take(np.arange(length), axis=axis)


def dequantize(
    q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int, block_size: int
) -> np.ndarray:
    """Reference DequantizeLinear (per-tensor, per-axis and blocked), computed in float32."""
    x = q.astype(np.float32)
    scale = scale.astype(np.float32)
    zp = np.zeros_like(scale) if zero_point is None else zero_point.astype(np.float32)
    if scale.ndim == 0 or scale.size == 1:
        return (x - zp.reshape(())) * scale.reshape(())
    axis = axis % x.ndim
    if block_size > 0:
        scale = _expand_blocks(scale, axis, block_size, x.shape[axis])
        zp = _expand_blocks(zp, axis, block_size, x.shape[axis])
    else:
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        scale = scale.reshape(shape)
        zp = zp.reshape(shape)
    return (x - zp) * scale


def fold_block_dequantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of ``model`` with constant DequantizeLinear nodes folded to float32."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    folded: list[onnx.TensorProto] = []
    keep: list[onnx.NodeProto] = []
    for node in graph.node:
        names = [n for n in node.input if n]
        if node.op_type != "DequantizeLinear" or not all(n in inits for n in names):
            keep.append(node)
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        arrays = [numpy_helper.to_array(inits[n]) for n in names]
        zero_point = arrays[2] if len(arrays) > 2 else None
        value = dequantize(
            arrays[0], arrays[1], zero_point, int(attrs.get("axis", 1)),
            int(attrs.get("block_size", 0)),
        )
        folded.append(numpy_helper.from_array(value.astype(np.float32), node.output[0]))
    if not folded:
        raise ModelInstallError("no constant DequantizeLinear node to fold: unexpected model")
    del graph.node[:]
    graph.node.extend(keep)
    graph.initializer.extend(folded)
    _drop_unused(graph)
    onnx.checker.check_model(model)
    return model


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Remove initializers nothing reads and graph inputs that are constants or unread."""
    used = {name for node in graph.node for name in node.input}
    used |= {o.name for o in graph.output}
    kept_inits = [t for t in graph.initializer if t.name in used]
    init_names = {t.name for t in kept_inits}
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    kept_inputs = [i for i in graph.input if i.name in used and i.name not in init_names]
    del graph.input[:]
    graph.input.extend(kept_inputs)


def make_spatial_dims_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Free the input's height/width (and the outputs' anchor count) so a fully
    convolutional detector can run at the camera's own aspect instead of a padded square."""
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ModelInstallError("dynamic input needs an NCHW image input")
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        out_dims = output.type.tensor_type.shape.dim
        if len(out_dims) == 3:
            out_dims[1].dim_param = "anchors"
    del graph.value_info[:]
    onnx.checker.check_model(model)
    return model


def _channel_slopes(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> np.ndarray | None:
    """A PRelu's constant per-channel slopes (C x 1 x 1 on NCHW) as a flat float32 vector."""
    if node.op_type != "PRelu" or node.input[1] not in inits:
        return None
    slopes = numpy_helper.to_array(inits[node.input[1]])
    if slopes.ndim != 3 or slopes.shape[1:] != (1, 1):
        return None
    return slopes.astype(np.float32).reshape(-1)


def rewrite_prelu(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace every PRelu whose slopes are a constant by ops ONNX Runtime keeps in NCHWc.

    PRelu(x) = Relu(x) + (-a)*Relu(-x), the negations and the per-channel product written as
    1x1 depthwise convolutions: ORT runs those, Relu and the Add in its blocked layout and
    fuses them into each other, so the layout reorders around every PRelu go (SFace ~1.4x
    faster than with elementwise Max/Min, benchmarks/recognition.py). Element by element it
    is the PRelu's arithmetic (-x is exact, the one product a*x the same rounding); ORT's
    fused blocked kernels put SFace's embeddings within 5e-7 of the PRelu graph's on real
    faces (values up to 4; the test bounds it at 1e-5). Only per-channel slopes on NCHW
    (shape C x 1 x 1) are rewritten; any other PRelu stays as it is.
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        slopes = _channel_slopes(node, inits)
        if slopes is None:
            nodes.append(node)
            continue
        x, y = node.input[0], node.output[0]
        weights = {f"{y}_neg_w": -np.ones_like(slopes), f"{y}_slope_w": -slopes}
        for name, value in weights.items():
            graph.initializer.append(numpy_helper.from_array(value.reshape(-1, 1, 1, 1), name))
        depthwise = {"group": slopes.size, "kernel_shape": [1, 1]}
        nodes += [onnx.helper.make_node("Relu", [x], [f"{y}_pos"]),
                  onnx.helper.make_node("Conv", [x, f"{y}_neg_w"], [f"{y}_negx"], **depthwise),
                  onnx.helper.make_node("Relu", [f"{y}_negx"], [f"{y}_mag"]),
                  onnx.helper.make_node("Conv", [f"{y}_mag", f"{y}_slope_w"], [f"{y}_neg"],
                                        **depthwise),
                  onnx.helper.make_node("Add", [f"{y}_neg", f"{y}_pos"], [y])]
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph)
    onnx.checker.check_model(model)
    return model


def convert_file(source: bytes, dynamic_hw: bool = False, prelu: bool = False) -> bytes:
    """Convert serialized ONNX bytes; raises ModelInstallError on anything unexpected."""
    try:
        model = onnx.load_from_string(source)
    except Exception as exc:  # protobuf raises several unrelated types
        raise ModelInstallError(f"not an ONNX model: {exc}") from exc
    model = fold_block_dequantize(model)
    if dynamic_hw:
        model = make_spatial_dims_dynamic(model)
    if prelu:
        model = rewrite_prelu(model)
    return model.SerializeToString()
