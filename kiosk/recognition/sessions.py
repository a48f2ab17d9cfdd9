"""ONNX Runtime sessions configured once for the kiosk's small CPU."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from kiosk.errors import ModelError


def session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Several sessions (detector, recogniser) share two cores: a pool that spin-waits after
    # its run steals the CPU the next session needs (measured: embed 19 ms alone, ~35 ms
    # right after a detect with spinning on).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def new_session(model_path: Path, threads: int) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(model_path), session_options(threads),
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ModelError(f"ONNX Runtime cannot load {model_path.name}: {exc}") from exc
