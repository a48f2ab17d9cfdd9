from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from platform_fixture import Platform, make_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Platform:
    p = make_platform(tmp_path_factory.mktemp("platform"))
    yield p
    p.stop()
