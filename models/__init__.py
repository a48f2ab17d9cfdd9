"""Model-pack manifests (``packs/*.toml``) and the default store for installed model files.

The store holds files that are installed, never committed: ``kiosk models install`` puts them
there (or an operator copies them for packs that cannot be redistributed).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKS_DIR = Path(__file__).resolve().parent / "packs"


def default_store() -> Path:
    """``$KIOSK_MODELS_DIR`` if set, else ``models/store`` beside the manifests."""
    env = os.environ.get("KIOSK_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent / "store"
