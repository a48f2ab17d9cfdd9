"""The face-template wire format, checked without numpy (the platform never runs recognition).

``{"pack": str, "dim": int, "vector": base64 of dim float32 little-endian}`` — the same
shape as ``kiosk.recognition.template.Template.to_dict()``. A template that is the wrong
size, not base64, or holds NaN, infinities or only zeros is refused before it is stored,
because a bad vector in a gallery silently breaks every later match.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

from common.errors import ErrorCode
from kiosk.protocol.errors import ProtocolError

MAX_DIM = 4096
PACK_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class WireTemplate:
    pack: str
    dim: int
    vector: bytes  # dim float32 little-endian

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "dim": self.dim,
                "vector": base64.b64encode(self.vector).decode("ascii")}


def _invalid(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.TEMPLATE_INVALID, message)


def parse_template(data: Any) -> WireTemplate:
    """Validate a template dict from the wire; raise TEMPLATE_INVALID saying what is wrong."""
    if not isinstance(data, dict):
        raise _invalid("template must be an object with pack, dim and vector")
    pack, dim, encoded = data.get("pack"), data.get("dim"), data.get("vector")
    if not isinstance(pack, str) or not PACK_PATTERN.match(pack):
        raise _invalid("template pack must be a short name of letters, digits, '.', '_', '-'")
    if type(dim) is not int or not 1 <= dim <= MAX_DIM:
        raise _invalid(f"template dim must be an integer from 1 to {MAX_DIM}")
    if not isinstance(encoded, str):
        raise _invalid("template vector must be a base64 string")
    try:
        raw = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _invalid("template vector is not base64") from None
    if len(raw) != dim * 4:
        raise _invalid(f"template vector has {len(raw)} bytes, dim {dim} needs {dim * 4}")
    values = struct.unpack(f"<{dim}f", raw)
    if not all(math.isfinite(v) for v in values):
        raise _invalid("template contains NaN or infinite values")
    if math.fsum(v * v for v in values) < 1e-12:
        raise _invalid("template is all zeros")
    return WireTemplate(pack=pack, dim=dim, vector=raw)
