"""Face templates: L2-normalised embeddings that remember which model pack made them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiosk.errors import PackMismatch, TemplateError


def normalise(vector: np.ndarray, expected_dim: int | None = None) -> np.ndarray:
    """Validate and L2-normalise one embedding; NaN, Inf, zero or wrong size are errors."""
    vec = np.asarray(vector)
    if vec.dtype.kind not in "fiu":
        raise TemplateError(f"template has non-numeric type {vec.dtype}")
    vec = vec.astype(np.float32).reshape(-1)
    if expected_dim is not None and vec.size != expected_dim:
        raise TemplateError(f"template has {vec.size} values, the pack makes {expected_dim}",
                            got=int(vec.size), expected=expected_dim)
    if not np.isfinite(vec).all():
        raise TemplateError("template contains NaN or infinite values")
    norm = float(np.linalg.norm(vec))
    if norm < 1e-6:
        raise TemplateError("template is all zeros")
    return vec / norm


@dataclass(frozen=True)
class Template:
    pack: str
    vector: np.ndarray  # float32, unit length

    @classmethod
    def create(cls, pack: str, vector: np.ndarray, dim: int | None = None) -> Template:
        return cls(pack=pack, vector=normalise(vector, dim))

    @property
    def dim(self) -> int:
        return int(self.vector.size)

    def similarity(self, other: Template) -> float:
        """Cosine similarity; templates from different packs cannot be compared."""
        require_same_pack(self.pack, other.pack)
        if other.dim != self.dim:
            raise TemplateError("templates of different dimension", got=other.dim,
                                expected=self.dim)
        return float(np.dot(self.vector, other.vector))

    def to_dict(self) -> dict[str, Any]:
        data = self.vector.astype("<f4").tobytes()
        return {"pack": self.pack, "dim": self.dim, "vector": base64.b64encode(data).decode()}

    @classmethod
    def from_dict(cls, data: Any) -> Template:
        if not isinstance(data, dict):
            raise TemplateError("template must be an object with pack, dim and vector")
        pack, dim, encoded = data.get("pack"), data.get("dim"), data.get("vector")
        if not isinstance(pack, str) or not pack:
            raise TemplateError("template has no pack")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
            raise TemplateError("template dim must be a positive integer")
        try:
            raw = base64.b64decode(str(encoded), validate=True)
        except (ValueError, TypeError) as exc:
            raise TemplateError("template vector is not base64") from exc
        if len(raw) != dim * 4:
            raise TemplateError(f"template vector has {len(raw)} bytes, dim {dim} needs {dim * 4}")
        return cls.create(pack, np.frombuffer(raw, dtype="<f4"), dim)


def require_same_pack(expected: str, got: str) -> None:
    if expected != got:
        raise PackMismatch(
            f"template made by pack '{got}' cannot be compared with pack '{expected}'",
            expected=expected, got=got,
        )
