"""The platform's request-authentication suite (tests/server/test_api_auth.py: every
rejection over real HTTP) run again, test for test, against a platform whose crypto profile
is ``gm``: each refusal keeps its status and code under SM2/SM3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.live import Device, Server, start_server
from tests.server.test_api_auth import *  # noqa: F403 (the same tests, collected here again)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's platform, of the ``gm`` profile (conftest.py's kiosk and counter
    register with it)."""
    running = start_server(tmp_path_factory.mktemp("gm-platform"),
                           '[security]\ncrypto_profile = "gm"\n')
    yield running
    running.stop()


def test_this_module_really_runs_under_gm(server: Server, kiosk: Device):
    reply = kiosk.get("/v1/gallery", params={"pack": "opencv-zoo-sface"})
    assert reply.status_code == 200
    assert reply.headers["Content-Digest"].startswith("sm3=:")
    assert 'alg="sm2-sm3"' in reply.headers["Signature-Input"]
    assert 'alg="sm2-sm3"' in reply.request.headers["Signature-Input"]
