"""Face embedders on ONNX Runtime: SFace (OpenCV Zoo) and ArcFace (insightface packs)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from kiosk.recognition.manifest import ModelFile
from kiosk.recognition.sessions import new_session, session_options


class Embedder(Protocol):
    def embed(self, aligned: list[np.ndarray]) -> np.ndarray: ...


class OnnxEmbedder:
    """A 112x112 aligned-crop embedder whose pre-processing the manifest describes."""

    def __init__(self, model_path: Path, spec: ModelFile, threads: int) -> None:
        self.session = new_session(model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.swap_rb = spec.channel_order == "RGB"
        self.mean = np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(spec.std, np.float32).reshape(1, 3, 1, 1)
        self.batchable = not isinstance(self.session.get_inputs()[0].shape[0], int)

    def embed(self, aligned: list[np.ndarray]) -> np.ndarray:
        """Raw (un-normalised) embeddings, one row per aligned BGR crop."""
        batch = np.stack([a[..., ::-1] if self.swap_rb else a for a in aligned])
        blob = (batch.transpose(0, 3, 1, 2).astype(np.float32) - self.mean) / self.std
        if self.batchable:
            return self.session.run(None, {self.input_name: blob})[0]
        rows = [self.session.run(None, {self.input_name: blob[i : i + 1]})[0]
                for i in range(len(blob))]
        return np.concatenate(rows)


class InsightfaceEmbedder:
    """insightface ArcFaceONNX (buffalo packs), through insightface's own model code."""

    def __init__(self, model_path: Path, spec: ModelFile, threads: int) -> None:
        from insightface.model_zoo import get_model

        self.model = get_model(str(model_path), providers=["CPUExecutionProvider"],
                               sess_options=session_options(threads))
        self.model.prepare(ctx_id=-1)

    def embed(self, aligned: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self.model.get_feat(list(aligned)), dtype=np.float32)
