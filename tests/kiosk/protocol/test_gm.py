"""The 国密 profile: each primitive against its standard's test vectors, the key formats
against the openssl command line, and the refusals when the two sides use different
profiles (the doc's worked example under gm: test_protocol_doc.py)."""

from __future__ import annotations

import base64
import shutil
import subprocess

import numpy as np
import pytest
import requests
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from common.config_loader import ConfigError as KioskConfigError
from common.errors import ErrorCode
from kiosk.config import load_config as load_kiosk_config
from kiosk.gallery_store import (
    MAGIC,
    GalleryStore,
    GalleryStoreError,
    SyncState,
    load_or_create_key,
)
from kiosk.protocol.crypto_profile import (
    ED25519,
    GM,
    Sm2PrivateKey,
    Sm2PublicKey,
    Sm4Gcm,
    get_profile,
    sm3,
)
from kiosk.protocol.digest import content_digest, verify_content_digest
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import (
    fingerprint,
    generate_private_key,
    load_or_create_private_key,
    load_private_key_pem,
    load_public_key_b64,
    pinned_fingerprint,
    public_key_b64,
)
from kiosk.protocol.signing import (
    DeviceSigner,
    RequestVerifier,
    ResponseVerifier,
    WireRequest,
    WireResponse,
    sign_response,
)
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.template import Template
from server_stub.config import PlatformConfigError, load_config
from server_stub.keys import SealError, ServerIdentity, TemplateSealer

# GB/T 32918.5-2017 (= GM/T 0003.5-2012) Annex A: the signature example on sm2p256v1
STD_D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
STD_X = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
STD_Y = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
STD_Z = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
STD_E = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
STD_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
STD_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
STD_MESSAGE = b"message digest"


def std_key() -> Sm2PrivateKey:
    return Sm2PrivateKey(bytes.fromhex(STD_D), Sm2PublicKey(bytes.fromhex("04" + STD_X + STD_Y)))


def test_sm3_gbt_32905_examples():
    assert sm3(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    assert sm3(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")


def test_sm4_gbt_32907_examples():
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    block = encryptor.update(key)
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"
    for _ in range(999_999):  # Annex A example 2: the same block encrypted 1 000 000 times
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_gcm_rfc_8998_example():
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plain = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                          "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    sealed = Sm4Gcm(key).encrypt(nonce, plain, aad)
    assert sealed.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC")
    assert Sm4Gcm(key).decrypt(nonce, sealed, aad) == plain
    for bad_data, bad_aad in [(sealed[:-1] + bytes([sealed[-1] ^ 1]), aad),
                              (bytes([sealed[0] ^ 1]) + sealed[1:], aad), (sealed, aad + b"x"),
                              (sealed[:10], aad)]:
        with pytest.raises(InvalidTag):
            Sm4Gcm(key).decrypt(nonce, bad_data, bad_aad)


def test_sm2_gbt_32918_example_verifies():
    key = std_key()  # the private key's public half is the standard's (checked on load)
    public = key.public_key()
    assert public.z.hex().upper() == STD_Z
    assert sm3(public.z + STD_MESSAGE).hex().upper() == STD_E
    signature = bytes.fromhex(STD_R + STD_S)
    public.verify(signature, STD_MESSAGE)
    with pytest.raises(InvalidSignature):
        public.verify(signature, STD_MESSAGE + b".")
    with pytest.raises(InvalidSignature):
        public.verify(bytes.fromhex(STD_R + STD_R), STD_MESSAGE)


def test_sm2_sign_verify_round_trip_and_refusals():
    key = GM.generate_private_key()
    signature = key.sign(b"the signature base")
    assert len(signature) == 64
    key.public_key().verify(signature, b"the signature base")
    assert key.sign(b"the signature base") != signature  # randomised, as SM2 is
    other = GM.generate_private_key()
    for bad_key, bad_sig, message in [
            (other.public_key(), signature, b"the signature base"),
            (key.public_key(), signature, b"the signature basE"),
            (key.public_key(), signature[:63], b"the signature base"),
            (key.public_key(), bytes(64), b"the signature base")]:
        with pytest.raises(InvalidSignature):
            bad_key.verify(bad_sig, message)


def test_sm2_keys_refuse_what_is_not_a_key():
    with pytest.raises(ValueError, match="65-byte point"):
        Sm2PublicKey(b"\x04" + bytes(63))
    with pytest.raises(ValueError, match="not a point"):
        Sm2PublicKey(b"\x04" + bytes.fromhex(STD_X) + bytes(32))
    with pytest.raises(ValueError, match="does not match"):
        Sm2PrivateKey(bytes.fromhex(STD_D), GM.generate_private_key().public_key())
    with pytest.raises(ValueError, match=r"\[1, n-2\]"):
        Sm2PrivateKey(bytes(32), std_key().public_key())


openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")


@openssl
def test_sm2_key_files_and_signatures_interoperate_with_openssl(tmp_path):
    ours = tmp_path / "ours.pem"
    key = load_or_create_private_key(ours, "gm")
    assert ours.stat().st_mode & 0o777 == 0o600
    text = subprocess.run(["openssl", "pkey", "-in", ours, "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "ASN1 OID: SM2" in text
    (tmp_path / "msg").write_bytes(b"signature base")
    signature = key.sign(b"signature base")
    (tmp_path / "ours.sig").write_bytes(encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")))
    subprocess.run(["openssl", "pkey", "-in", ours, "-pubout", "-out", tmp_path / "ours.pub"],
                   check=True)
    subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "ours.pub",
                    "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
                    "-in", tmp_path / "msg", "-sigfile", tmp_path / "ours.sig"],
                   check=True, capture_output=True)

    theirs = tmp_path / "theirs.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", theirs], check=True)
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", theirs, "-rawin", "-digest", "sm3",
                    "-pkeyopt", "distid:1234567812345678", "-in", tmp_path / "msg",
                    "-out", tmp_path / "theirs.sig"], check=True)
    loaded = load_private_key_pem(theirs.read_bytes(), "gm")
    r, s = decode_dss_signature((tmp_path / "theirs.sig").read_bytes())
    loaded.public_key().verify(r.to_bytes(32, "big") + s.to_bytes(32, "big"), b"signature base")
    subprocess.run(["openssl", "ec", "-in", theirs, "-out", tmp_path / "sec1.pem"], check=True,
                   capture_output=True)  # "BEGIN SM2 PRIVATE KEY": not PKCS#8
    with pytest.raises(ValueError, match="openssl pkcs8 -topk8 -nocrypt"):
        load_private_key_pem((tmp_path / "sec1.pem").read_bytes(), "gm")


def test_key_files_of_the_other_profile_are_refused(tmp_path):
    ed_file = tmp_path / "ed.pem"
    load_or_create_private_key(ed_file, "ed25519")
    with pytest.raises(ValueError, match=r"Ed25519 key \(crypto profile 'ed25519'\), but the "
                                         r"crypto profile is 'gm'"):
        load_or_create_private_key(ed_file, "gm")
    gm_file = tmp_path / "gm.pem"
    key = load_or_create_private_key(gm_file, "gm")
    assert load_private_key_pem(gm_file.read_bytes()).public_key() == key.public_key()
    with pytest.raises(ValueError, match="SM2 key"):
        ServerIdentity.load(gm_file, "ed25519")


def test_public_keys_and_fingerprints_on_the_wire():
    key = std_key()
    wire = public_key_b64(key)
    assert base64.b64decode(wire) == bytes.fromhex("04" + STD_X + STD_Y)
    assert load_public_key_b64(wire, "gm") == key.public_key()
    assert fingerprint(key) == sm3(bytes.fromhex("04" + STD_X + STD_Y)).hex()
    assert pinned_fingerprint(key) == f"sm3:{fingerprint(key)}"
    assert pinned_fingerprint(ED25519.generate_private_key()).startswith("sha256:")
    ed_wire = public_key_b64(ED25519.generate_private_key())
    for text, profile, says in [(ed_wire, "gm", "another crypto profile"),
                                (wire, "ed25519", "another crypto profile"),
                                (base64.b64encode(b"\x04" + bytes(64)).decode(), "gm",
                                 "not a point")]:
        with pytest.raises(ProtocolError) as info:
            load_public_key_b64(text, profile)
        assert info.value.code == ErrorCode.PUBLIC_KEY_INVALID and says in info.value.message
        assert info.value.details == {"crypto_profile": profile}
    assert load_public_key_b64(wire, None) == key.public_key()  # its length says which


def test_sm3_content_digest_is_the_only_member_under_gm():
    body = b'{"hello": "world"}'
    value = content_digest(body, "gm")
    assert value == f"sm3=:{base64.b64encode(sm3(body)).decode()}:"
    verify_content_digest(value, body, "gm")
    for bad in [content_digest(body, "gm").replace("sm3", "sha-256"), content_digest(body),
                f"{value}, {content_digest(body)}", "sm3=:AAAA:", value.replace(":", "")]:
        with pytest.raises(ProtocolError) as info:
            verify_content_digest(bad, body, "gm")
        assert info.value.code == ErrorCode.DIGEST_MISMATCH
    with pytest.raises(ProtocolError) as info:
        verify_content_digest(value, body + b" ", "gm")
    assert info.value.code == ErrorCode.DIGEST_MISMATCH
    with pytest.raises(ProtocolError):
        verify_content_digest(value, body, "ed25519")


def _signed(key, url="http://127.0.0.1:8600/v1/server-time") -> requests.PreparedRequest:
    request = requests.Request("GET", url)
    request.auth = DeviceSigner("dev-1", key, clock=lambda: 1_800_000_000)
    return request.prepare()


@pytest.mark.parametrize("platform, device", [("gm", "ed25519"), ("ed25519", "gm")])
def test_a_request_of_the_other_profile_says_so(platform, device):
    key = generate_private_key(device)
    request = _signed(key)
    verifier = RequestVerifier(lambda _: key.public_key(), profile=platform,
                               clock=lambda: 1_800_000_000)
    with pytest.raises(ProtocolError) as info:
        verifier.verify("GET", request.url, list(request.headers.items()), b"")
    assert info.value.code == ErrorCode.CRYPTO_PROFILE_MISMATCH
    assert info.value.details == {"crypto_profile": platform,
                                  "alg": get_profile(platform).alg}
    assert repr(get_profile(device).alg) in info.value.message


def test_a_response_of_the_other_profile_is_untrusted():
    device, ed_server, gm_server = (GM.generate_private_key(), ED25519.generate_private_key(),
                                    GM.generate_private_key())
    request = _signed(device)
    wire = WireResponse(200, {"Content-Type": "application/json"},
                        WireRequest("GET", request.url, request.headers))
    sign_response(wire, key_id=fingerprint(ed_server), private_key=ed_server, body=b"{}",
                  now=1_800_000_000)
    response = requests.Response()
    response.status_code, response._content, response.request = 200, b"{}", request
    response.headers.update(wire.headers)
    with pytest.raises(ProtocolError) as info:
        ResponseVerifier(gm_server.public_key(), clock=lambda: 1_800_000_000).verify(response)
    assert info.value.code == ErrorCode.UNTRUSTED_RESPONSE
    assert "crypto profile 'gm'" in info.value.message


def test_templates_are_sealed_with_sm4_gcm_under_gm(tmp_path):
    sealer = TemplateSealer.load(tmp_path / "data.key", "gm")
    assert len((tmp_path / "data.key").read_bytes()) == 16
    assert (tmp_path / "data.key").stat().st_mode & 0o777 == 0o600
    vector = bytes(range(256)) * 2
    sealed = sealer.seal("P1001", "pack-a", vector)
    assert len(sealed) == 12 + len(vector) + 16 and vector not in sealed
    key = (tmp_path / "data.key").read_bytes()
    assert Sm4Gcm(key).decrypt(sealed[:12], sealed[12:], b"P1001|pack-a") == vector
    assert TemplateSealer.load(tmp_path / "data.key", "gm").open("P1001", "pack-a",
                                                                  sealed) == vector
    for patient, pack, row in [("P1002", "pack-a", sealed), ("P1001", "pack-b", sealed),
                               ("P1001", "pack-a", sealed[:-1] + bytes([sealed[-1] ^ 1]))]:
        with pytest.raises(SealError):
            sealer.open(patient, pack, row)
    TemplateSealer.load(tmp_path / "aes.key")  # an AES-256 data key of the default profile
    with pytest.raises(ValueError, match=r"SM4-GCM data key .* has 16 bytes, found 32"):
        TemplateSealer.load(tmp_path / "aes.key", "gm")


def test_the_kiosks_local_gallery_is_sealed_with_sm4_gcm_under_gm(tmp_path):
    key = load_or_create_key(tmp_path / "gallery.key", "gm")
    assert len(key) == 16 and load_or_create_key(tmp_path / "gallery.key", "gm") == key
    gallery = Gallery("p", 16)
    gallery.add("alice", Template.create("p", np.arange(1, 17, dtype=np.float32)))
    GalleryStore(tmp_path / "gallery.enc", key, "p", 16, "gm").save(gallery, SyncState(7))
    blob = (tmp_path / "gallery.enc").read_bytes()
    nonce = blob[len(MAGIC):len(MAGIC) + 12]
    assert b"alice" in Sm4Gcm(key).decrypt(nonce, blob[len(MAGIC) + 12:], MAGIC + b"p")
    loaded, state = GalleryStore(tmp_path / "gallery.enc", key, "p", 16, "gm").load()
    assert loaded.persons() == ["alice"] and state.cursor == 7
    load_or_create_key(tmp_path / "aes.key")
    with pytest.raises(GalleryStoreError, match=r"not a 16-byte SM4-GCM key .* delete it"):
        load_or_create_key(tmp_path / "aes.key", "gm")


def test_both_configs_name_the_profiles_they_accept(tmp_path):
    (tmp_path / "kiosk.toml").write_text('[server]\ncrypto_profile = "gm"\n')
    assert load_kiosk_config(tmp_path / "kiosk.toml").server.crypto_profile == "gm"
    (tmp_path / "server.toml").write_text('[security]\ncrypto_profile = "gm"\n')
    assert load_config(tmp_path / "server.toml").security.crypto_profile == "gm"
    assert load_config(None).security.crypto_profile == "ed25519"
    (tmp_path / "kiosk.toml").write_text('[server]\ncrypto_profile = "sm9"\n')
    with pytest.raises(KioskConfigError, match=r"'server\.crypto_profile' must be one of "
                                               r"ed25519, gm"):
        load_kiosk_config(tmp_path / "kiosk.toml")
    (tmp_path / "server.toml").write_text('[security]\ncrypto_profile = "SM2"\n')
    with pytest.raises(PlatformConfigError, match=r"'security\.crypto_profile' must be one of"):
        load_config(tmp_path / "server.toml")
