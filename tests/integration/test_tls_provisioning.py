"""TLS end to end (protocol §1.1): a real platform process serving HTTPS with a certificate
from a CA made in the test; kiosks and a counter provision, pin the certificate with the
server key, and settle over it. A certificate for the same names with another key — an
interceptor relaying to the real platform, or IT's rotation before re-pinning — is refused
before a byte of any request is sent, and plain HTTP to a host that is not loopback is never
used."""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.config_loader import ConfigError
from common.net import free_port
from kiosk.backend import BackendError
from kiosk.client import PlatformClient
from kiosk.config import load_config, parse_config
from kiosk.demo.local_platform import LocalPlatform
from kiosk.outcome import ReplyOutcome
from kiosk.protocol.keys import generate_private_key
from kiosk.protocol.schemas import PaymentMethod, SettleRequest
from kiosk.provisioning import ProvisionError, connect, provision
from kiosk.transport import TransportError
from tests.tlsca import Issued, TestCA


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def serve_with(platform: LocalPlatform, cert: Issued) -> None:
    """(Re)start the platform serving ``cert`` on 127.0.0.1 (TLS forced on by its config)."""
    platform.stop()
    text = platform.config.read_text()
    text = re.sub(r'(?m)^tls_cert_file = .*$', f'tls_cert_file = "{cert.cert_file}"', text)
    text = re.sub(r'(?m)^tls_key_file = .*$', f'tls_key_file = "{cert.key_file}"', text)
    platform.config.write_text(text)
    platform.start()


class Interceptor:
    """A TLS relay with a certificate of its own for the same names, passing every byte on
    to the real platform: what a hostile box on the hospital network would do."""

    def __init__(self, upstream_port: int, cert: Issued) -> None:
        self.upstream_port = upstream_port
        self.front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.front.load_cert_chain(cert.cert_file, cert.key_file)
        self.back = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.back.check_hostname, self.back.verify_mode = False, ssl.CERT_NONE
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.relayed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(raw,), daemon=True).start()

    def _relay(self, raw: socket.socket) -> None:
        with contextlib.suppress(OSError):
            front = self.front.wrap_socket(raw, server_side=True)
            back = self.back.wrap_socket(
                socket.create_connection(("127.0.0.1", self.upstream_port)),
                server_hostname="127.0.0.1")
            self._pump(front, back)

    def _pump(self, front: ssl.SSLSocket, back: ssl.SSLSocket) -> None:
        """Both directions in one thread, non-blocking: a blocking read of the platform's
        side can swallow its TLS 1.3 session tickets and then wait for application data
        while the kiosk's request sits unread on the other side (a read timeout, now and
        then, under load)."""
        other = {front: back, back: front}
        for s in other:
            s.setblocking(False)
        with contextlib.suppress(OSError):
            while True:
                ready = [s for s in other if s.pending()] or \
                    select.select(list(other), [], [], 30)[0]
                if not ready:
                    break
                for source in ready:
                    try:
                        data = source.recv(65536)
                    except ssl.SSLWantReadError:
                        continue  # a record not yet complete, or only a handshake message
                    if not data:
                        raise OSError("closed")
                    self.relayed += len(data)
                    target = other[source]
                    target.setblocking(True)
                    target.sendall(data)
                    target.setblocking(False)
        for s in other:
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls_platform(tmp_path_factory: pytest.TempPathFactory, ca: TestCA) -> Iterator[LocalPlatform]:
    root = tmp_path_factory.mktemp("tls-platform")
    cert = ca.issue("platform")
    (root / "server.toml").write_text(
        f'[server]\ndb_url = "sqlite:///{root}/server.db"\n'
        f'key_file = "{root}/server_key.pem"\ndata_key_file = "{root}/data_key.bin"\n'
        f'tls_cert_file = "{cert.cert_file}"\ntls_key_file = "{cert.key_file}"\n'
        '[gallery]\nscope = "all_active"\n')
    platform = LocalPlatform(root, free_port(), {}, scheme="https", verify=str(ca.cert_file))
    platform.admin("init")
    platform.seed = json.loads(platform.admin("seed", "demo"))
    platform.start()
    platform.cert = cert  # type: ignore[attr-defined]
    yield platform
    platform.stop()


def settle_by_card(client: PlatformClient, card_no: str) -> str:
    """Look the patient up by card and settle their first bill over the client's transport."""
    view, quote = client.lookup(PaymentMethod.CARD, card_no)
    assert quote is not None
    settled = client.settle(SettleRequest(
        bill_id=quote.bill_ids[0], patient_id=view.patient_id, method=PaymentMethod.CARD,
        expected_self_pay_fen=dict(quote.bill_self_pay)[quote.bill_ids[0]]), str(uuid.uuid4()))
    return settled.settlement.settlement_id


def test_a_kiosk_provisions_pins_the_certificate_and_settles_over_tls(tls_platform, tmp_path):
    cert: Issued = tls_platform.cert
    cfg, data = tmp_path / "kiosk.toml", tmp_path / "data"
    proc = kiosk("provision", "--server", tls_platform.url, "--token",
                 tls_platform.token("kiosk"), "--write-config", str(cfg), "--data-dir",
                 str(data))
    assert proc.returncode == 0, proc.stderr
    assert f"pinned TLS certificate {cert.fingerprint}" in proc.stdout
    config = load_config(cfg)
    assert config.server.url == tls_platform.url and config.server.tls_fingerprint == \
        cert.fingerprint
    shown = kiosk("--config", str(cfg), "tls", "show")
    assert shown.returncode == 0 and f"presents the pinned certificate {cert.fingerprint}" in \
        shown.stdout
    doctor = kiosk("--config", str(cfg), "doctor")
    assert f"PASS tls       {tls_platform.url}: presents the pinned certificate" in \
        doctor.stdout, doctor.stdout
    assert "PASS platform" in doctor.stdout

    client = connect(config)
    settlement_id = settle_by_card(client, "YB33078400001001")
    counter = connect(tls_platform.device("counter", "desk-tls"))  # the console's client
    assert counter.tls_fingerprint == cert.fingerprint
    assert counter.settlement(settlement_id).settlement_id == settlement_id
    client.http.close()
    counter.http.close()


def test_an_interceptor_with_its_own_certificate_is_refused(tls_platform, ca, tmp_path):
    relay = Interceptor(tls_platform.port, ca.issue("impostor"))  # same names, other key
    token = tls_platform.token("kiosk")
    try:
        with pytest.raises(ProvisionError) as refused:
            provision(relay.url, token, tmp_path / "k.toml", tmp_path / "d")
        assert refused.value.code == "client.tls_pin_mismatch"
        assert "signed key answer names " + tls_platform.cert.fingerprint in \
            refused.value.message
        assert relay.relayed > 0  # it did reach the real platform, and was still refused
        assert not (tmp_path / "k.toml").exists() and not (tmp_path / "d").exists()

        done = provision(tls_platform.url, token, tmp_path / "k.toml", tmp_path / "d")
        assert done.tls_fingerprint == tls_platform.cert.fingerprint  # token was not spent
        hijacked = tmp_path / "hijacked.toml"
        hijacked.write_text((tmp_path / "k.toml").read_text().replace(tls_platform.url,
                                                                     relay.url))
        client = connect(load_config(hijacked))
        before = relay.relayed
        with pytest.raises(BackendError) as err:
            client.sync_gallery(0)
        assert err.value.code == "client.tls_pin_mismatch"
        assert err.value.outcome is ReplyOutcome.UNKNOWN  # never "paid" or "refused" from this
        assert relay.relayed == before  # nothing of the request got through
        repin = kiosk("--config", str(hijacked), "tls", "repin")
        assert repin.returncode == 2 and "client.tls_pin_mismatch" in repin.stderr
        assert load_config(hijacked).server.tls_fingerprint == tls_platform.cert.fingerprint
    finally:
        relay.close()


def test_a_wrong_expected_certificate_refuses_provisioning(tls_platform, tmp_path):
    proc = kiosk("provision", "--server", tls_platform.url, "--token",
                 tls_platform.token("kiosk"), "--write-config", str(tmp_path / "k.toml"),
                 "--data-dir", str(tmp_path / "d"), "--tls-fingerprint", "sha256:" + "0" * 64)
    assert proc.returncode == 2
    assert proc.stderr.startswith("kiosk: error: client.tls_pin_mismatch: the platform's TLS "
                                  f"certificate is {tls_platform.cert.fingerprint}")
    assert not (tmp_path / "k.toml").exists()


def test_plain_http_to_a_host_that_is_not_loopback_is_never_used(tmp_path):
    url = "http://10.0.0.8:8600"
    proc = kiosk("provision", "--server", url, "--token", "t" * 16, "--write-config",
                 str(tmp_path / "k.toml"), "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("kiosk: error: client.insecure_transport: "
                                  f"{url}: plain HTTP is refused")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[server]\nurl = "{url}"\n')
    validated = kiosk("config", "validate", str(cfg))
    assert validated.returncode == 3 and "plain HTTP is refused" in validated.stderr
    for url in ("http://10.0.0.8:8600", "http://0.0.0.0:8600", "http://pay.hosp.cn",
                "http://[::]:8600", "http://127.0.0.1.nip.io"):
        with pytest.raises(ProvisionError) as refused:
            provision(url, "t" * 16, tmp_path / "k.toml", tmp_path / "d")
        assert refused.value.code == "client.insecure_transport", url
        with pytest.raises(ConfigError, match="plain HTTP is refused"):
            parse_config(f'[server]\nurl = "{url}"\n')
        with pytest.raises(TransportError) as err:
            PlatformClient(url, "dev_x", generate_private_key(),
                           generate_private_key().public_key())
        assert err.value.code == "client.insecure_transport"
    with pytest.raises(ProvisionError, match="no TLS certificate to check"):
        provision("http://127.0.0.1:9", "t" * 16, tmp_path / "k.toml", tmp_path / "d",
                  expect_tls_fingerprint="sha256:" + "0" * 64)
    assert not (tmp_path / "d").exists() and not (tmp_path / "k.toml").exists()
    for loopback in ("http://127.0.0.1:8600", "http://localhost:8600", "http://[::1]:8600"):
        assert parse_config(f'[server]\nurl = "{loopback}"\n').server.url == loopback


def test_https_without_a_pin_is_not_connected(tls_platform, tmp_path):
    done = provision(tls_platform.url, tls_platform.token("kiosk"), tmp_path / "k.toml",
                     tmp_path / "d")
    cfg = tmp_path / "k.toml"
    cfg.write_text(cfg.read_text().replace(f'tls_fingerprint = "{done.tls_fingerprint}"',
                                           'tls_fingerprint = ""'))
    with pytest.raises(ConfigError, match="no TLS certificate is pinned"):
        connect(load_config(cfg))


def test_a_rotated_certificate_is_refused_until_the_kiosk_repins(tls_platform, ca, tmp_path):
    """Runs last: it rotates the module platform's certificate."""
    first: Issued = tls_platform.cert
    kiosk_cfg = tls_platform.device("kiosk", "lobby-rotate")
    counter = connect(tls_platform.device("counter", "desk-rotate"))
    rotated = ca.issue("rotated")  # IT's new certificate: same names, new key
    serve_with(tls_platform, rotated)
    tls_platform.cert = rotated

    client = connect(kiosk_cfg)
    with pytest.raises(BackendError) as err:
        settle_by_card(client, "YB33078400001003")
    assert err.value.code == "client.tls_pin_mismatch"
    with pytest.raises(BackendError) as err:  # the counter console's client alike
        counter.settlements_today()
    assert err.value.code == "client.tls_pin_mismatch"
    shown = kiosk("--config", kiosk_cfg.source, "tls", "show")
    assert shown.returncode == 3
    assert f"client.tls_pin_mismatch: {tls_platform.url} presents {rotated.fingerprint}, " \
           f"pinned {first.fingerprint}" in shown.stdout

    repin = kiosk("--config", kiosk_cfg.source, "tls", "repin")
    assert repin.returncode == 0, repin.stderr
    assert f"pinned TLS certificate {rotated.fingerprint}" in repin.stdout
    again = load_config(Path(kiosk_cfg.source))
    assert again.server.tls_fingerprint == rotated.fingerprint
    assert again.site.kiosk_id == kiosk_cfg.site.kiosk_id  # the same registration
    client = connect(again)
    settlement_id = settle_by_card(client, "YB33078400001003")  # nothing was charged before
    assert settlement_id
    client.http.close()
    counter.http.close()
