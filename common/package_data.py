"""Data files that installed packages ship (insightface's photos and mean face), found
without importing the package: importing insightface pulls in onnx and ml_dtypes, a second
at the start of every command that only wanted a path."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, *parts: str) -> Path:
    """``parts`` joined to the installed ``package``'s folder."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve().joinpath(*parts)
