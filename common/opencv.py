"""The one place the project imports OpenCV.

opencv-python's Linux wheel bundles Qt5 and, on import, points ``QT_QPA_PLATFORM_PLUGIN_PATH``
(and ``QT_QPA_FONTDIR``) at its own plugins. A PySide6 (Qt6) window created afterwards then
loads Qt5 plugins and fails on a real display. Importing ``cv2`` through this module restores
the variables to what they were before, so the import order never matters.
"""

from __future__ import annotations

import os

_QT_VARS = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")
_saved = {name: os.environ.get(name) for name in _QT_VARS}

import cv2  # noqa: E402  (must follow the snapshot above)

for _name, _value in _saved.items():
    if _value is None:
        os.environ.pop(_name, None)
    else:
        os.environ[_name] = _value

# OpenCV's worker threads spin after each parallel call; on a 2-core kiosk they steal the
# cores ONNX Runtime is about to use (measured: embed 19 ms alone, ~35 ms right after a
# warpAffine). Our images are small; one thread is faster overall.
cv2.setNumThreads(1)

__all__ = ["cv2"]
