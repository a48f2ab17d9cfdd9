"""Bad and unusual image input: every case gets a clear ImageError or a usable BGR array."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.errors import ImageError
from kiosk.recognition.images import MAX_WORK_SIDE, decode_image, read_image_file, to_bgr8


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _code(data: bytes) -> str:
    with pytest.raises(ImageError) as err:
        decode_image(data, "x")
    return err.value.code


def test_not_an_image_empty_and_truncated(images_dir: Path):
    assert _code(b"") == "image.empty"
    assert _code(b"%PDF-1.7 this is not an image") == "image.not_an_image"
    jpeg = (images_dir / "t1.jpg").read_bytes()
    assert _code(jpeg[: len(jpeg) // 3]) == "image.truncated"
    assert _code(jpeg[:200]) in ("image.truncated", "image.corrupt")


def test_missing_file_and_directory(tmp_path: Path):
    with pytest.raises(ImageError, match="no such file"):
        read_image_file(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="directory"):
        read_image_file(tmp_path)


def test_sixteen_bit_grey_rgba_cmyk_palette_all_become_bgr8(astronaut: np.ndarray):
    rgb = Image.fromarray(astronaut[..., ::-1].copy())
    grey16 = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    cases = {
        "grey": _encode(rgb.convert("L"), "PNG"),
        "grey16": _encode(grey16, "PNG"),
        "rgba": _encode(rgb.convert("RGBA"), "PNG"),
        "cmyk": _encode(rgb.convert("CMYK"), "JPEG"),
        "palette": _encode(rgb.convert("P"), "PNG"),
    }
    for name, data in cases.items():
        out = decode_image(data, name)
        assert out.dtype == np.uint8 and out.shape == (512, 512, 3), name
    grey = decode_image(cases["grey16"], "grey16")
    assert abs(int(grey[200, 200, 0]) - int(np.asarray(rgb.convert("L"))[200, 200])) <= 1
    cmyk = decode_image(cases["cmyk"], "cmyk").astype(int)
    assert np.abs(cmyk - astronaut.astype(int)).mean() < 12  # colours survive CMYK


def _png_header_only_bomb(width: int, height: int) -> bytes:
    """A valid small PNG file that declares a huge image (zeros compress to almost nothing)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(comp.compress(row) for _ in range(64)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def test_huge_png_is_refused_before_decoding():
    with pytest.raises(ImageError) as err:
        decode_image(_png_header_only_bomb(20000, 20000), "bomb.png")
    assert err.value.code == "image.too_large"
    assert "20000x20000" in err.value.message


def test_huge_jpeg_is_decoded_reduced_with_bounded_memory():
    big = Image.new("L", (12000, 9000), 128)
    data = _encode(big, "JPEG", quality=50)
    out = decode_image(data, "big.jpg")
    assert max(out.shape[:2]) <= MAX_WORK_SIDE
    assert out.shape[1] / out.shape[0] == pytest.approx(12000 / 9000, rel=0.01)


def test_camera_arrays_of_any_layout_are_normalised():
    assert to_bgr8(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert to_bgr8(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    assert to_bgr8(np.full((4, 5, 3), 65535, np.uint16))[0, 0, 0] == 255
    assert to_bgr8(np.full((4, 5, 3), 0.5, np.float32))[0, 0, 0] == 128
    for bad, code in [
        (np.zeros((0, 5, 3), np.uint8), "image.empty"),
        (np.zeros((4, 5, 2), np.uint8), "image.bad_shape"),
        (np.full((4, 5, 3), np.nan, np.float32), "image.not_finite"),
        (np.zeros((4, 5, 3), np.complex64), "image.bad_dtype"),
    ]:
        with pytest.raises(ImageError) as err:
            to_bgr8(bad)
        assert err.value.code == code
