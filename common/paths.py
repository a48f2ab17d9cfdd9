"""Paths a person typed, made absolute where they enter (CLI flags, config values).

Shared by the kiosk and the platform: a relative path handed on to a subprocess that runs
in another folder, or kept past a ``chdir``, would silently mean another file.
"""

from __future__ import annotations

import os
from pathlib import Path


def absolute_path(path: str | Path) -> Path:
    """``path`` made absolute against the working directory now (``~`` expanded, symlinks
    left alone so an operator's layout stays as they wrote it)."""
    return Path(os.path.abspath(Path(path).expanduser()))
