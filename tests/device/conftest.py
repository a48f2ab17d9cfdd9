"""Every device test runs with the ``device`` logger at DEBUG (tests/device_fakes.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _device_logs(device_logs: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    return device_logs
