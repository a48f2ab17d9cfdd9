"""The 国密 profile end to end: a real platform process with ``crypto_profile = "gm"``,
kiosks provisioned by ``kiosk.provisioning``, a signed settlement whose answer is kept and
verified, and gallery sync of SM4-GCM-sealed templates; then every way the two sides can
disagree on the profile, each refused with its reason and nothing lost."""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests

from common.config_loader import ConfigError
from common.errors import ErrorCode
from kiosk.config import load_config
from kiosk.protocol import schemas
from kiosk.protocol.crypto_profile import Sm4Gcm, sm3
from kiosk.protocol.digest import content_digest
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import (
    fingerprint,
    generate_private_key,
    load_private_key_pem,
    load_public_key_b64,
    public_key_b64,
)
from kiosk.protocol.schemas import PaymentMethod
from kiosk.protocol.signing import DeviceSigner, ResponseVerifier, SignedAnswer
from kiosk.provisioning import ProvisionError, connect, provision
from kiosk.recognition.template import Template
from tests.server.live import Device, Server, admin, error_code, start_server

GM_CONFIG = '[security]\ncrypto_profile = "gm"\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    platform = start_server(tmp_path_factory.mktemp("gm-platform"), GM_CONFIG)
    yield platform
    platform.stop()


def server_public_key(server: Server):
    return load_public_key_b64(requests.get(f"{server.base}/v1/server-key", timeout=10)
                               .json()["public_key"], "gm")


def test_the_platform_signs_with_sm2_and_says_so(server: Server):
    shown = json.loads(server.admin("key", "show").stdout)
    key = load_private_key_pem((server.directory / "server_key.pem").read_bytes(), "gm")
    assert (shown["alg"], shown["crypto_profile"]) == ("sm2-sm3", "gm")
    assert shown["fingerprint"] == fingerprint(key) == sm3(
        base64.b64decode(shown["public_key"])).hex()
    answer = requests.get(f"{server.base}/v1/server-key", timeout=10)
    assert answer.headers["Content-Digest"] == content_digest(answer.content, "gm")
    assert 'alg="sm2-sm3"' in answer.headers["Signature-Input"]
    ResponseVerifier(key.public_key()).verify(answer)
    assert len((server.directory / "data.key").read_bytes()) == 16  # an SM4 key


def test_a_gm_kiosk_provisions_settles_and_syncs_sealed_templates(server: Server,
                                                                   tmp_path: Path):
    done = provision(server.base, server.token("kiosk"), tmp_path / "kiosk.toml",
                     tmp_path / "kiosk", crypto_profile="gm")
    config = load_config(tmp_path / "kiosk.toml")
    assert config.server.crypto_profile == "gm"
    assert config.server.server_key_fingerprint == f"sm3:{done.server_fingerprint}"
    load_private_key_pem((tmp_path / "kiosk" / "device.key").read_bytes(), "gm")
    kiosk = connect(config)

    provision(server.base, server.token("counter"), tmp_path / "counter.toml",
              tmp_path / "counter", crypto_profile="gm")
    counter = connect(load_config(tmp_path / "counter.toml"))
    template = Template.create(kiosk.pack, np.linspace(0.1, 1.0, 128, dtype=np.float32))
    counter.enrol("P1003", template, "face-pay-v1",
                  datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    (sealed,), = server.sql("select sealed from templates where patient_id = 'P1003'")
    raw = template.vector.astype("<f4").tobytes()
    assert raw not in bytes(sealed)
    data_key = (server.directory / "data.key").read_bytes()
    assert Sm4Gcm(data_key).decrypt(bytes(sealed[:12]), bytes(sealed[12:]),
                                    f"P1003|{kiosk.pack}".encode()) == raw

    page = kiosk.sync_gallery(0)
    synced = dict(page.upserts)
    assert synced["P1003"].similarity(template) > 0.99999  # the same face, re-normalised

    view, quote = kiosk.lookup(PaymentMethod.CARD, "YB33078400001003")
    assert view.patient_id == "P1003" and quote is not None
    signed = kiosk.settle(schemas.SettleRequest(bill_id="B1003-1", patient_id="P1003",
                                                method=schemas.PaymentMethod.CARD),
                          str(uuid.uuid4()))
    assert signed.settlement.bill_id == "B1003-1"
    answer = SignedAnswer.from_json(signed.answer.to_json())  # as the outbox keeps it
    assert answer.headers["content-digest"].startswith("sm3=:")
    assert 'alg="sm2-sm3"' in answer.request_headers["signature-input"]
    assert answer.verify(server_public_key(server)) > 0
    forged = SignedAnswer(answer.status, answer.headers, answer.body.replace(b"B1003", b"B1009"),
                          answer.request_headers)
    with pytest.raises(ProtocolError) as forgery:
        forged.verify(server_public_key(server))
    assert forgery.value.code == ErrorCode.UNTRUSTED_RESPONSE


def test_an_ed25519_kiosk_is_told_before_it_registers(server: Server, tmp_path: Path):
    token = server.token("kiosk")
    with pytest.raises(ProvisionError) as info:
        provision(server.base, token, tmp_path / "k.toml", tmp_path / "k")
    assert info.value.code == "provision.crypto_profile_mismatch"
    assert 'crypto_profile = "gm"' in str(info.value)
    assert not (tmp_path / "k.toml").exists() and not (tmp_path / "k" / "device.key").exists()
    # the token was not spent: the same kiosk set to gm registers with it
    provision(server.base, token, tmp_path / "k.toml", tmp_path / "k", crypto_profile="gm")
    config = load_config(tmp_path / "k.toml")
    connect(config).sync_gallery(0)

    text = (tmp_path / "k.toml").read_text().replace('crypto_profile = "gm"',
                                                      'crypto_profile = "ed25519"')
    (tmp_path / "k.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"crypto_profile = 'ed25519'.*SM2 key"):
        connect(load_config(tmp_path / "k.toml"))


def test_an_ed25519_key_is_refused_at_registration(server: Server):
    reply = requests.post(f"{server.base}/v1/devices/register", timeout=10, json={
        "token": server.token("kiosk"), "public_key": public_key_b64(generate_private_key()),
        "name": "wrong-profile"})
    ResponseVerifier(server_public_key(server)).verify(reply)
    assert reply.status_code == 422 and error_code(reply) == "device.public_key_invalid"
    assert reply.json()["error"]["details"] == {"crypto_profile": "gm"}


def test_a_request_signed_with_ed25519_is_refused_and_says_why(server: Server):
    device = server.device("kiosk")
    assert device.get("/v1/gallery", params={"pack": "opencv-zoo-sface"}).status_code == 200
    stranger = requests.Session()
    stranger.auth = DeviceSigner(device.device_id, generate_private_key())
    reply = stranger.get(f"{server.base}/v1/gallery", params={"pack": "opencv-zoo-sface"},
                         timeout=10)
    device.verifier.verify(reply)
    assert reply.status_code == 401 and error_code(reply) == "auth.crypto_profile_mismatch"
    assert reply.json()["error"]["details"] == {"crypto_profile": "gm", "alg": "sm2-sm3"}


def test_devices_of_a_platform_that_changed_profile_are_told_to_reprovision(tmp_path: Path):
    platform = start_server(tmp_path)
    try:
        device = Device.register(platform, platform.token("kiosk"))
        assert device.get("/v1/gallery", params={"pack": "opencv-zoo-sface"}).status_code == 200
    finally:
        platform.stop()
    config = platform.config.read_text(encoding="utf-8")
    platform.config.write_text(config + GM_CONFIG, encoding="utf-8")
    refused = admin(platform.config, "init", check=False)
    assert refused.returncode != 0 and "server_key.pem" in refused.stderr
    assert "crypto profile is 'gm'" in refused.stderr
    platform.config.write_text(
        config.replace("server_key.pem", "server_key_gm.pem").replace("data.key", "data_gm.key")
        + GM_CONFIG, encoding="utf-8")
    platform.start()
    try:
        reply = device.session.get(f"{platform.base}/v1/gallery",
                                   params={"pack": "opencv-zoo-sface"}, timeout=10)
        ResponseVerifier(server_public_key(platform)).verify(reply)
        assert reply.status_code == 401 and error_code(reply) == "auth.crypto_profile_mismatch"
        assert "provision the device again" in reply.json()["error"]["message"]
    finally:
        platform.stop()
