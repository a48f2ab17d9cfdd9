from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kiosk.demo.local_platform import LocalPlatform, make_platform

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> LocalPlatform:
    p = make_platform(tmp_path_factory.mktemp("platform"))
    yield p
    p.stop()
