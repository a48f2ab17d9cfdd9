"""The two crypto profiles, and the one place each profile's algorithms are chosen.

``ed25519`` (the default): Ed25519 signatures (``alg="ed25519"``), SHA-256 in
Content-Digest and key fingerprints, AES-256-GCM for face templates at rest.

``gm`` (国密, for the commercial-cryptography assessment 密评): SM2 signatures over SM3
(GB/T 32918.2, ``alg="sm2-sm3"``, signer ID ``1234567812345678`` as GB/T 35276 defaults),
SM3 (GB/T 32905) in Content-Digest (``sm3=:…:``) and fingerprints, SM4-GCM (GB/T 32907,
GM/T 0009 / RFC 8998) for templates at rest.

SM2 comes from GmSSL 3.2 (``gmssl-pyx``): pyca/cryptography has no SM2. SM3 and SM4 come
from pyca/cryptography's OpenSSL, which the Ed25519 profile already trusts (docs/protocol.md
§2.1 compares the candidates). An SM2 signature travels as ``r || s``, 32 bytes each, as
RFC 9421 does for ECDSA; an SM2 public key as the 65-byte uncompressed point ``04 || x || y``;
an SM2 private key file is PKCS#8 PEM, as ``openssl genpkey -algorithm SM2`` writes it.
"""

from __future__ import annotations

import abc
import base64
import functools
import hashlib
import re
import secrets
from typing import Any, ClassVar

import gmssl_pyx
from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from http_message_signatures import HTTPMessageSigner
from http_message_signatures import algorithms as sig_algorithms
from http_message_signatures.digests import ContentDigest
from http_message_signatures.exceptions import HTTPMessageSignaturesException

DEFAULT_PROFILE = "ed25519"
SM2_SIGNER_ID = b"1234567812345678"  # GB/T 35276-2017 §5.3: the default user ID
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16

# sm2p256v1, GB/T 32918.5-2017 §2: the terms of Z = SM3(ENTL || ID || a || b || xG || yG ||
# xA || yA) that do not depend on the key
_SM2_A = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
_SM2_B = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
_SM2_GX = bytes.fromhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7")
_SM2_GY = bytes.fromhex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
_SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
# PKCS#8 PrivateKeyInfo {0, {id-ecPublicKey, sm2p256v1}, ECPrivateKey {1, d, [1] 04||x||y}}
_SM2_PKCS8_HEAD = bytes.fromhex("308187020100301306072a8648ce3d020106082a811ccf5501822d"
                                "046d306b0201010420")
_SM2_PKCS8_MID = bytes.fromhex("a144034200")
_PEM = re.compile(rb"-----BEGIN PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]+?)-----END PRIVATE KEY-----")


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


class Sm2PublicKey:
    """A point of sm2p256v1, checked to be on the curve when it is made."""

    __slots__ = ("_xy", "_z")

    def __init__(self, point: bytes) -> None:
        if len(point) != 65 or point[0] != 4:
            raise ValueError(f"an SM2 public key is the 65-byte point 04||x||y, got "
                             f"{len(point)} bytes")
        try:
            self._xy = gmssl_pyx.normalize_sm2_public_key(point)
        except gmssl_pyx.InvalidValueError:
            raise ValueError("not a point of the SM2 curve") from None
        self._z = sm3(len(SM2_SIGNER_ID * 8).to_bytes(2, "big") + SM2_SIGNER_ID + _SM2_A
                      + _SM2_B + _SM2_GX + _SM2_GY + self._xy)

    @property
    def z(self) -> bytes:
        """Z_A of GB/T 32918.2 §5.5 for the default signer ID: hashed in front of every
        message this key signs."""
        return self._z

    def public_bytes(self) -> bytes:
        return b"\x04" + self._xy

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise InvalidSignature unless ``signature`` (r||s) is this key's over ``data``.
        GmSSL recomputes Z itself, so signing and verifying do not share that code."""
        if len(signature) != 64:
            raise InvalidSignature("an SM2 signature is 64 bytes, r||s")
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < _SM2_N and 0 < s < _SM2_N):
            raise InvalidSignature("r and s must be in [1, n-1]")
        if not gmssl_pyx.sm2_verify(self._xy, data, encode_dss_signature(r, s), SM2_SIGNER_ID):
            raise InvalidSignature("SM2 signature does not verify")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._xy == self._xy

    def __hash__(self) -> int:
        return hash(self._xy)


class Sm2PrivateKey:
    __slots__ = ("_d", "_public")

    def __init__(self, secret: bytes, public: Sm2PublicKey) -> None:
        if len(secret) != 32 or not 0 < int.from_bytes(secret, "big") < _SM2_N - 1:
            raise ValueError("an SM2 private key is a 32-byte integer in [1, n-2]")
        self._d, self._public = secret, public
        probe = b"sm2 key pair check"
        try:
            public.verify(self.sign(probe), probe)
        except InvalidSignature:
            raise ValueError("the SM2 private key does not match its public key") from None

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        xy, secret = gmssl_pyx.sm2_key_generate()
        return cls(secret, Sm2PublicKey(b"\x04" + xy))

    def public_key(self) -> Sm2PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        """r||s over SM3(Z || data). GmSSL's whole-message call would do the same but builds
        a fresh signing context each time, ten times slower than signing the digest."""
        digest = sm3(self._public.z + data)
        r, s = decode_dss_signature(gmssl_pyx.sm2_sign_sm3_digest(self._d, digest))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def private_bytes_pkcs8(self) -> bytes:
        return _SM2_PKCS8_HEAD + self._d + _SM2_PKCS8_MID + self._public.public_bytes()

    @classmethod
    def from_pkcs8(cls, der: bytes) -> Sm2PrivateKey:
        head, mid = len(_SM2_PKCS8_HEAD), len(_SM2_PKCS8_HEAD) + 32
        if (len(der) != mid + len(_SM2_PKCS8_MID) + 65 or not der.startswith(_SM2_PKCS8_HEAD)
                or der[mid:mid + len(_SM2_PKCS8_MID)] != _SM2_PKCS8_MID):
            raise ValueError("not an SM2 PKCS#8 private key with its public key")
        return cls(der[head:mid], Sm2PublicKey(der[mid + len(_SM2_PKCS8_MID):]))


class SM2_SM3(sig_algorithms.HTTPSignatureAlgorithm):
    """``alg="sm2-sm3"`` for http_message_signatures, as its ED25519 class is for Ed25519."""

    algorithm_id = "sm2-sm3"

    def __init__(self, public_key: Any = None, private_key: Any = None) -> None:
        if public_key is not None and not isinstance(public_key, Sm2PublicKey):
            raise HTTPMessageSignaturesException("Unexpected public key type")
        if private_key is not None and not isinstance(private_key, Sm2PrivateKey):
            raise HTTPMessageSignaturesException("Unexpected private key type")
        self.public_key, self.private_key = public_key, private_key

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def verify(self, signature: bytes, message: bytes) -> None:
        self.public_key.verify(signature, message)


class _Sm3Hasher:
    """The ``hashlib`` shape the digest classes expect, over SM3."""

    digest_size = 32

    def __init__(self, data: bytes = b"") -> None:
        self._data = data

    def digest(self) -> bytes:
        return sm3(self._data)


class Sha256ContentDigest(ContentDigest):
    algorithm = "sha-256"
    _hashers: ClassVar = {"sha-256": hashlib.sha256}


class Sm3ContentDigest(ContentDigest):
    algorithm = "sm3"
    _hashers: ClassVar = {"sm3": _Sm3Hasher}


class Sm4Gcm:
    """SM4-GCM with AESGCM's calling convention: ``encrypt`` returns ciphertext || tag."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError(f"an SM4 key has 16 bytes, got {len(key)}")
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated_data)
        return encryptor.update(data) + encryptor.finalize() + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes:
        """Raise InvalidTag if the data or its associated data were changed."""
        if len(data) < GCM_TAG_BYTES:
            raise InvalidTag
        decryptor = Cipher(algorithms.SM4(self._key),
                           modes.GCM(nonce, data[-GCM_TAG_BYTES:])).decryptor()
        decryptor.authenticate_additional_data(associated_data)
        return decryptor.update(data[:-GCM_TAG_BYTES]) + decryptor.finalize()


PrivateKey = Ed25519PrivateKey | Sm2PrivateKey
PublicKey = Ed25519PublicKey | Sm2PublicKey


class CryptoProfile(abc.ABC):
    """What a profile fixes: signature algorithm, digest, key formats, template sealing."""

    name: str
    alg: str  # RFC 9421 ``alg`` parameter
    digest: str  # the one Content-Digest member
    fingerprint_prefix: str  # how a pinned fingerprint is written: "<prefix>:<hex>"
    key_kind: str  # for people: "Ed25519", "SM2"
    public_key_len: int
    seal_name: str
    data_key_len: int
    signature_algorithm: type[sig_algorithms.HTTPSignatureAlgorithm]
    content_digest: type[ContentDigest]
    private_type: type
    public_type: type

    @functools.cached_property
    def signer_class(self) -> type[HTTPMessageSigner]:
        """The library's signer, writing and checking this profile's Content-Digest."""
        return type(f"{self.key_kind}Signer", (HTTPMessageSigner,),
                    {"content_digest_class": self.content_digest})

    @functools.cached_property
    def signer(self) -> HTTPMessageSigner:
        """Builds signature bases (the keys sign them themselves, see signing._sign)."""
        return self.signer_class(signature_algorithm=self.signature_algorithm)

    @abc.abstractmethod
    def hash(self, data: bytes) -> bytes:
        """The profile's hash (SHA-256 or SM3): fingerprints."""

    @abc.abstractmethod
    def generate_private_key(self) -> Any:
        """A fresh signing key of this profile."""

    @abc.abstractmethod
    def public_key_bytes(self, key: Any) -> bytes:
        """The raw bytes a public key travels as (base64 on the wire)."""

    @abc.abstractmethod
    def load_public_key(self, raw: bytes) -> Any:
        """The public key in ``raw``; ValueError saying what is wrong."""

    @abc.abstractmethod
    def private_key_pem(self, key: Any) -> bytes:
        """PKCS#8 PEM, unencrypted (the file is mode 0600)."""

    @abc.abstractmethod
    def load_private_key_pem(self, data: bytes) -> Any:
        """The key in a PKCS#8 PEM; ValueError if it is not one of this profile."""

    @abc.abstractmethod
    def aead(self, key: bytes) -> AESGCM | Sm4Gcm:
        """The cipher that seals templates at rest, under ``key``."""

    def new_data_key(self) -> bytes:
        return secrets.token_bytes(self.data_key_len)

    def __repr__(self) -> str:
        return f"<crypto profile {self.name}>"


class _Ed25519Profile(CryptoProfile):
    name, alg, digest, fingerprint_prefix, key_kind = ("ed25519", "ed25519", "sha-256",
                                                       "sha256", "Ed25519")
    public_key_len, seal_name, data_key_len = 32, "AES-256-GCM", 32
    signature_algorithm = sig_algorithms.ED25519
    content_digest = Sha256ContentDigest
    private_type, public_type = Ed25519PrivateKey, Ed25519PublicKey

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def generate_private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.generate()

    def public_key_bytes(self, key: Ed25519PublicKey) -> bytes:
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def load_public_key(self, raw: bytes) -> Ed25519PublicKey:
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key has 32 bytes, got {len(raw)}")
        return Ed25519PublicKey.from_public_bytes(raw)

    def private_key_pem(self, key: Ed25519PrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def load_private_key_pem(self, data: bytes) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return key

    def aead(self, key: bytes) -> AESGCM:
        return AESGCM(key)


class _GmProfile(CryptoProfile):
    name, alg, digest, fingerprint_prefix, key_kind = "gm", "sm2-sm3", "sm3", "sm3", "SM2"
    public_key_len, seal_name, data_key_len = 65, "SM4-GCM", 16
    signature_algorithm = SM2_SM3
    content_digest = Sm3ContentDigest
    private_type, public_type = Sm2PrivateKey, Sm2PublicKey

    def hash(self, data: bytes) -> bytes:
        return sm3(data)

    def generate_private_key(self) -> Sm2PrivateKey:
        return Sm2PrivateKey.generate()

    def public_key_bytes(self, key: Sm2PublicKey) -> bytes:
        return key.public_bytes()

    def load_public_key(self, raw: bytes) -> Sm2PublicKey:
        return Sm2PublicKey(raw)

    def private_key_pem(self, key: Sm2PrivateKey) -> bytes:
        body = base64.encodebytes(key.private_bytes_pkcs8()).replace(b"\n", b"")
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return b"\n".join([b"-----BEGIN PRIVATE KEY-----", *lines,
                           b"-----END PRIVATE KEY-----", b""])

    def load_private_key_pem(self, data: bytes) -> Sm2PrivateKey:
        found = _PEM.search(data)
        if found is None:
            raise ValueError("not a PEM private key")
        return Sm2PrivateKey.from_pkcs8(base64.b64decode(b"".join(found.group(1).split())))

    def aead(self, key: bytes) -> Sm4Gcm:
        return Sm4Gcm(key)


ED25519 = _Ed25519Profile()
GM = _GmProfile()
PROFILES: dict[str, CryptoProfile] = {p.name: p for p in (ED25519, GM)}


def get_profile(name: str | CryptoProfile) -> CryptoProfile:
    """The profile called ``name`` (``ed25519`` or ``gm``); ValueError names the choices."""
    if isinstance(name, CryptoProfile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown crypto profile {name!r}: choose one of "
                         f"{', '.join(PROFILES)}") from None


def profile_of(key: Any) -> CryptoProfile:
    """The profile a key object belongs to (its type says which)."""
    for profile in PROFILES.values():
        if isinstance(key, profile.private_type | profile.public_type):
            return profile
    raise TypeError(f"not a key of any crypto profile: {type(key).__name__}")


def profile_of_alg(alg: str) -> CryptoProfile | None:
    return next((p for p in PROFILES.values() if p.alg == alg), None)


def profile_of_private_key_pem(data: bytes) -> CryptoProfile | None:
    """Which profile a PKCS#8 PEM private key file is for (None: neither)."""
    found = _PEM.search(data)
    if found is None:
        return None
    try:
        if base64.b64decode(b"".join(found.group(1).split())).startswith(_SM2_PKCS8_HEAD):
            return GM
        ED25519.load_private_key_pem(data)
    except (ValueError, UnsupportedAlgorithm):
        return None
    return ED25519
