"""Turn untrusted image files and camera frames into 8-bit BGR arrays, or a clear ImageError.

Decoding goes through Pillow because it reads the header (size, mode) before any pixel is
decoded, which lets us bound memory: JPEGs too large are decoded at a reduced scale
(libjpeg DCT scaling), anything else too large is refused before allocation.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import ErrorCode
from common.opencv import cv2
from kiosk.errors import ImageError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DECODE_PIXELS = 50_000_000
MAX_WORK_SIDE = 4096

# Our own limits below are stricter for everything except JPEG, which we decode reduced.
Image.MAX_IMAGE_PIXELS = None


def read_image_file(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(ErrorCode.IMAGE_TOO_LARGE, f"{path.name}: file is {size} bytes, limit "
                             f"{MAX_FILE_BYTES}", file=path.name)
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise ImageError(ErrorCode.IMAGE_UNREADABLE, f"{path}: is a directory") from exc
    except FileNotFoundError as exc:
        raise ImageError(ErrorCode.IMAGE_UNREADABLE, f"{path}: no such file") from exc
    except OSError as exc:
        raise ImageError(ErrorCode.IMAGE_UNREADABLE, f"{path}: {exc.strerror or exc}") from exc
    return decode_image(data, name=path.name)


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes into a contiguous uint8 BGR array."""
    if not data:
        raise ImageError(ErrorCode.IMAGE_EMPTY, f"{name}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > MAX_DECODE_PIXELS:
                if img.format != "JPEG":
                    raise ImageError(
                        ErrorCode.IMAGE_TOO_LARGE,
                        f"{name}: {width}x{height} is over the {MAX_DECODE_PIXELS} pixel limit",
                        width=width, height=height,
                    )
                img.draft("RGB", (MAX_WORK_SIDE, MAX_WORK_SIDE))
            if img.size[0] * img.size[1] > MAX_DECODE_PIXELS:
                raise ImageError(ErrorCode.IMAGE_TOO_LARGE,
                                 f"{name}: {width}x{height} is too large")
            img.load()
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(ErrorCode.IMAGE_NOT_AN_IMAGE,
                         f"{name}: not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        text = str(exc)
        code = (ErrorCode.IMAGE_TRUNCATED if "truncated" in text or "broken" in text
                else ErrorCode.IMAGE_CORRUPT)
        raise ImageError(code, f"{name}: cannot decode ({text})") from exc
    with contextlib.suppress(OSError, ValueError, SyntaxError):  # broken EXIF: keep pixels
        img = ImageOps.exif_transpose(img)
    return to_bgr8(_pil_to_array(img), name)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))[..., ::-1]
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return np.asarray(img)
    return np.asarray(img.convert("RGB"))[..., ::-1]


def to_bgr8(arr: np.ndarray, name: str = "frame") -> np.ndarray:
    """Normalise any array a camera or decoder gives (grey, BGRA, 16-bit, float) to BGR uint8."""
    if not isinstance(arr, np.ndarray) or arr.size == 0:
        raise ImageError(ErrorCode.IMAGE_EMPTY, f"{name}: no pixels")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageError(ErrorCode.IMAGE_BAD_SHAPE, f"{name}: unsupported array shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = _to_uint8(arr, name)
    if arr.ndim == 2 or arr.shape[2] == 1:
        arr = cv2.cvtColor(arr.reshape(arr.shape[0], arr.shape[1]), cv2.COLOR_GRAY2BGR)
    elif arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    height, width = arr.shape[:2]
    if max(height, width) > MAX_WORK_SIDE:
        scale = MAX_WORK_SIDE / max(height, width)
        arr = cv2.resize(arr, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype.kind in "ui":
        peak = int(arr.max()) if arr.size else 0
        bits = 8 if peak < 256 else (16 if peak < 65536 else 32)
        return (arr.astype(np.float64) / float((1 << bits) - 1) * 255.0).round().astype(np.uint8)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ImageError(ErrorCode.IMAGE_NOT_FINITE, f"{name}: pixel values include NaN or Inf")
        scale = 255.0 if float(arr.max()) <= 1.0 else 1.0
        return np.clip(arr * scale, 0, 255).round().astype(np.uint8)
    raise ImageError(ErrorCode.IMAGE_BAD_DTYPE, f"{name}: unsupported pixel type {arr.dtype}")
