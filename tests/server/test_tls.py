"""The platform's TLS (protocol §1.1): the loopback rule, `kiosk-server tls init/show`, the
refusal to serve plain HTTP off loopback, and a real platform process serving HTTPS whose
signed server-key answer names the certificate it serves."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509

from common.net import free_port
from kiosk.protocol.keys import load_public_key_b64
from kiosk.protocol.signing import ResponseVerifier
from kiosk.protocol.transport import is_loopback
from kiosk.transport import mount_pin, pin_mismatch
from server_stub import tls
from server_stub.config import PlatformConfigError, ServerSection, load_config
from tests.server.live import write_config
from tests.tlsca import TestCA

LOOPBACK = ("localhost", "LocalHost.", "127.0.0.1", "127.1.2.3", "127.255.255.254", "::1",
            "[::1]", "::ffff:127.0.0.1")
NOT_LOOPBACK = ("0.0.0.0", "::", "[::]", "10.0.0.5", "10.255.1.1", "192.168.1.20",
                "172.16.0.1", "128.0.0.1", "126.255.255.255", "pay.hosp.cn",
                "localhost.hosp.cn", "", "::ffff:10.0.0.1", "::2")


def server_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server_stub", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def tls_config(folder: Path, cert: Path, key: Path) -> Path:
    return write_config(folder, f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n')


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_is_localhost_127_8_and_ipv6_one(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_everything_else_is_not_loopback(host):
    assert not is_loopback(host)
    with pytest.raises(PlatformConfigError,
                       match=re.escape(f"refusing to serve plain HTTP on {host}")):
        tls.for_listening(ServerSection(), host)


def test_plain_http_is_allowed_on_loopback_only():
    assert tls.for_listening(ServerSection(), "127.0.0.1") is None
    assert tls.for_listening(ServerSection(), "localhost") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "10.20.30.40"])
def test_run_refuses_plain_http_off_loopback_before_touching_anything(tmp_path, host):
    config = write_config(tmp_path)
    proc = server_cli(config, "run", "--host", host, "--port", str(free_port()))
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith(f"kiosk-server: error: refusing to serve plain HTTP on "
                                  f"{host} (not loopback)")
    assert "kiosk-server tls init" in proc.stderr
    assert not (tmp_path / "server.db").exists()  # refused before any database or key
    assert not (tmp_path / "server_key.pem").exists()


def test_tls_init_makes_a_key_and_a_certificate_with_the_names(tmp_path):
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    config = tls_config(tmp_path, cert, key)
    proc = server_cli(config, "tls", "init", "--name", "pay.hosp.cn", "--name", "10.8.0.2",
                      "--days", "400")
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert made["names"] == ["pay.hosp.cn", "10.8.0.2"]
    assert key.stat().st_mode & 0o777 == 0o600 and cert.stat().st_mode & 0o777 == 0o644
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    alt = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["pay.hosp.cn"]
    assert [str(a) for a in alt.get_values_for_type(x509.IPAddress)] == ["10.8.0.2"]
    assert 399 <= (parsed.not_valid_after_utc - parsed.not_valid_before_utc).days <= 401
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    assert made["fingerprint"] == "sha256:" + hashlib.sha256(der).hexdigest()
    shown = server_cli(config, "tls", "show")
    assert json.loads(shown.stdout)["fingerprint"] == made["fingerprint"]

    again = server_cli(config, "tls", "init", "--name", "pay.hosp.cn")
    assert again.returncode == 3 and "--force replaces them" in again.stderr
    assert json.loads(server_cli(config, "tls", "show").stdout)["fingerprint"] == \
        made["fingerprint"]  # nothing was replaced
    rotated = server_cli(config, "tls", "init", "--name", "pay.hosp.cn", "--force")
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["fingerprint"] != made["fingerprint"]


def test_tls_init_refuses_a_name_that_is_neither_host_nor_address(tmp_path):
    config = tls_config(tmp_path, tmp_path / "c.pem", tmp_path / "k.pem")
    proc = server_cli(config, "tls", "init", "--name", "https://pay.hosp.cn/")
    assert proc.returncode == 3 and "neither a host name nor an IP address" in proc.stderr
    assert not (tmp_path / "c.pem").exists() and not (tmp_path / "k.pem").exists()


def test_tls_files_come_in_pairs_and_the_key_must_be_the_certificates(tmp_path):
    (tmp_path / "half.toml").write_text('[server]\ntls_cert_file = "c.pem"\n')
    with pytest.raises(PlatformConfigError, match="go together"):
        load_config(tmp_path / "half.toml")
    ca = TestCA(tmp_path / "ca")
    one, other = ca.issue("one"), ca.issue("other")
    config = tls_config(tmp_path, one.cert_file, other.key_file)
    proc = server_cli(config, "run", "--port", str(free_port()))
    assert proc.returncode == 3
    assert f"TLS key {other.key_file} is not the key of {one.cert_file}" in proc.stderr
    missing = tls_config(tmp_path, tmp_path / "absent.pem", one.key_file)
    proc = server_cli(missing, "run", "--host", "0.0.0.0", "--port", str(free_port()))
    assert proc.returncode == 3 and "TLS certificate" in proc.stderr and "absent.pem" in \
        proc.stderr


@pytest.fixture()
def tls_platform(tmp_path) -> Iterator[tuple[str, Path, object]]:
    """The platform on 127.0.0.1 with TLS forced on by its config, a CA-issued certificate."""
    ca = TestCA(tmp_path / "ca")
    leaf = ca.issue("platform")
    config = tls_config(tmp_path, leaf.cert_file, leaf.key_file)
    assert server_cli(config, "init").returncode == 0
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "server_stub", "--config", str(config),
                             "run", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                # the ordinary CA check works too: the certificate names 127.0.0.1
                if requests.get(f"{url}/v1/health", timeout=1, verify=ca.cert_file).ok:
                    break
            except requests.RequestException:
                assert time.monotonic() < deadline, "platform did not start"
                time.sleep(0.1)
        yield url, ca.cert_file, leaf
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
        log.close()


def test_the_platform_serves_tls_and_signs_the_certificate_it_serves(tls_platform):
    url, _, leaf = tls_platform
    with mount_pin(requests.Session(), leaf.fingerprint) as pinned:
        resp = pinned.get(f"{url}/v1/server-key", timeout=5)
    info = resp.json()
    assert info["tls_fingerprint"] == leaf.fingerprint
    ResponseVerifier(load_public_key_b64(info["public_key"])).verify(resp)  # signed

    with pytest.raises(requests.RequestException):  # no plain HTTP on the TLS port
        requests.get(url.replace("https://", "http://") + "/v1/health", timeout=5)
    wrong = mount_pin(requests.Session(), "sha256:" + "ab" * 32)
    with pytest.raises(requests.exceptions.SSLError) as refused:
        wrong.get(f"{url}/v1/health", timeout=5)
    assert pin_mismatch(refused.value)

