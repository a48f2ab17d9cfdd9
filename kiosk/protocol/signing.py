"""RFC 9421 HTTP Message Signatures: the one scheme both sides use, with the algorithms of
the crypto profile (``kiosk.protocol.crypto_profile``: Ed25519 and SHA-256, or SM2 and SM3).

Requests (label ``kiosk``, tag ``chs-kiosk-v1``) cover ``@method``, ``@path``, ``@query``,
``content-digest`` (always, even for an empty body), ``content-type`` when there is a body
and ``idempotency-key`` when the header is sent; parameters ``created``, ``expires``,
``nonce``, ``keyid`` (the device id) and ``alg`` (``"ed25519"`` or ``"sm2-sm3"``).
``@path``/``@query`` rather than ``@target-uri`` so a TLS-terminating proxy in front of the
platform does not break them.

Responses (label ``server``, tag ``chs-server-v1``) cover ``@status``, ``content-type``,
``content-digest`` and the request's own signature (``"signature";key="kiosk";req``), which
binds each response to the exact request it answers (and through it to that request's
method, path, query and nonce): an old response cannot be replayed to a new request. A
response to an unsigned request covers the request's ``@method``/``@path``/``@query``.

Parsing and canonicalisation are left to ``http_message_signatures``; this module only fixes
the profile and turns the library's failures into stable wire error codes.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import http_sf
import requests
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    MappingKeyResolver,
)

from common.errors import ErrorCode
from kiosk.protocol.crypto_profile import (
    DEFAULT_PROFILE,
    CryptoProfile,
    PrivateKey,
    PublicKey,
    get_profile,
    profile_of,
    profile_of_alg,
)
from kiosk.protocol.digest import verify_content_digest
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import fingerprint

REQUEST_LABEL = "kiosk"
REQUEST_TAG = "chs-kiosk-v1"
RESPONSE_LABEL = "server"
RESPONSE_TAG = "chs-server-v1"
DEFAULT_SKEW_S = 300
MAX_NONCE_LEN = 128
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"

_BOUND_REQUEST_SIGNATURE = f'"signature";key="{REQUEST_LABEL}";req'
_REQUEST_TARGET = ('"@method";req', '"@path";req', '"@query";req')


class HeaderList(list):
    """Header lines in wire order, duplicates kept: the view the signature library reads."""

    def items(self) -> Iterable[tuple[str, str]]:  # type: ignore[override]
        return iter(self)


@dataclass
class WireRequest:
    """A request as the library sees it: method, absolute URL and header lines."""

    method: str
    url: str
    headers: Any


@dataclass
class WireResponse:
    status_code: int
    headers: dict[str, str]
    request: WireRequest | None = None


@dataclass(frozen=True)
class VerifiedRequest:
    key_id: str
    nonce: str
    created: int
    covered: tuple[str, ...] = field(default_factory=tuple)


def _has_header(headers: Any, name: str) -> bool:
    return any(key.lower() == name for key, _ in headers.items())


def _sign(message: Any, private_key: PrivateKey, **options: Any) -> None:
    """The library builds the signature base (and the Content-Digest) for the key's profile;
    the two headers it yields are one-member RFC 8941 dictionaries, written directly (the
    library's ``apply`` would rebuild the whole base a second time just to re-check it,
    doubling the cost of every message)."""
    prepared = profile_of(private_key).signer.prepare(message, **options)
    signature = base64.b64encode(private_key.sign(prepared.signature_base)).decode("ascii")
    for name in [n for n in message.headers if n.lower() in ("signature", "signature-input")]:
        del message.headers[name]
    message.headers["Signature-Input"] = f"{prepared.label}={prepared.signature_params}"
    message.headers["Signature"] = f"{prepared.label}=:{signature}:"


def _at(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(seconds), tz=datetime.UTC)


def sign_request(message: Any, *, key_id: str, private_key: PrivateKey, body: bytes,
                 now: float | None = None, nonce: str | None = None,
                 skew_s: int = DEFAULT_SKEW_S) -> None:
    """Add Content-Digest, Signature-Input and Signature to ``message`` in place."""
    if body and not _has_header(message.headers, "content-type"):
        raise ValueError("a request with a body must say its Content-Type")
    covered = ["@method", "@path", "@query"]
    if body:
        covered.append("content-type")
    if _has_header(message.headers, IDEMPOTENCY_HEADER.lower()):
        covered.append("idempotency-key")
    created = time.time() if now is None else now
    _sign(message, private_key, key_id=key_id, created=_at(created),
          expires=_at(created + skew_s), nonce=nonce or secrets.token_urlsafe(16),
          label=REQUEST_LABEL, tag=REQUEST_TAG, covered_component_ids=covered, body=body,
          use_existing_digest=True)


class DeviceSigner(requests.auth.AuthBase):
    """``requests`` auth that signs every request with the device key (``auth=`` argument)."""

    def __init__(self, key_id: str, private_key: PrivateKey,
                 clock: Callable[[], float] = time.time) -> None:
        self.key_id = key_id
        self.private_key = private_key
        self.clock = clock

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body if r.body is not None else b""
        if isinstance(body, str):
            body = body.encode("utf-8")
            r.body = body
        if not isinstance(body, bytes):
            raise ValueError("streamed bodies cannot be digested; send bytes")
        sign_request(r, key_id=self.key_id, private_key=self.private_key, body=body,
                     now=self.clock())
        return r


def sign_response(response: WireResponse, *, key_id: str, private_key: PrivateKey,
                  body: bytes, now: float | None = None) -> None:
    """Sign a server response, bound to the request's signature whenever it has one.

    The request's signature already covers its method, path and query, so a bound response
    need not repeat them; a response to an unsigned request covers them directly.
    """
    covered = ["@status"]
    if "content-type" in {k.lower() for k in response.headers}:
        covered.append("content-type")
    options: dict[str, Any] = dict(key_id=key_id, created=_at(time.time() if now is None
                                                              else now),
                                   label=RESPONSE_LABEL, tag=RESPONSE_TAG, body=body,
                                   use_existing_digest=True)
    if response.request is not None and _has_header(response.request.headers, "signature"):
        try:
            _sign(response, private_key,
                  covered_component_ids=[*covered, _BOUND_REQUEST_SIGNATURE], **options)
            return
        except HTTPMessageSignaturesException:  # its Signature field is unusable
            pass
    _sign(response, private_key, covered_component_ids=[*covered, *_REQUEST_TARGET], **options)


class _Rejected(InvalidSignature):
    """Carries a ProtocolError through the library, which re-raises InvalidSignature as is."""

    def __init__(self, error: ProtocolError) -> None:
        super().__init__(error.message)
        self.error = error


class _KeyLookup(HTTPSignatureKeyResolver):
    def __init__(self, lookup: Callable[[str], PublicKey]) -> None:
        self.lookup = lookup

    def resolve_public_key(self, key_id: str) -> PublicKey:
        try:
            return self.lookup(key_id)
        except ProtocolError as exc:
            raise _Rejected(exc) from exc

    def resolve_private_key(self, key_id: str) -> Any:
        raise NotImplementedError("verification only")


class _WindowedVerifier(HTTPMessageVerifier):
    """Replaces the library's age check with the protocol's symmetric ±skew window, and says
    so plainly when a signature is of the other crypto profile."""

    def __init__(self, key_resolver: HTTPSignatureKeyResolver, skew_s: int | None,
                 clock: Callable[[], float], profile: CryptoProfile) -> None:
        super().__init__(signature_algorithm=profile.signature_algorithm,
                         key_resolver=key_resolver)
        self.skew_s = skew_s
        self.clock = clock
        self.profile = profile

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        """The library's first check of a signature; the profile's ``alg`` is checked here
        too, where the library checks it (after the window, before the key is looked up)."""
        created = sig_input.params.get("created")
        if type(created) is not int:
            raise _Rejected(ProtocolError(ErrorCode.SIGNATURE_PARAM_MISSING,
                                          "signature has no integer 'created' parameter"))
        now = self.clock()
        if self.skew_s is not None and abs(now - created) > self.skew_s:
            raise _Rejected(ProtocolError(
                ErrorCode.CLOCK_SKEW, f"'created' is {int(now - created)} s from server time, "
                f"outside ±{self.skew_s} s", skew_s=self.skew_s))
        expires = sig_input.params.get("expires")
        if expires is not None and (type(expires) is not int or expires < now):
            raise _Rejected(ProtocolError(ErrorCode.CLOCK_SKEW, "signature has expired"))
        _check_alg(sig_input.params.get("alg"), self.profile)


def _check_alg(alg: Any, profile: CryptoProfile) -> None:
    other = profile_of_alg(alg) if isinstance(alg, str) else None
    if other is not None and other is not profile:
        raise _Rejected(ProtocolError(
            ErrorCode.CRYPTO_PROFILE_MISMATCH,
            f"signed with alg={alg!r} (crypto profile {other.name!r}), but this side uses "
            f"crypto profile {profile.name!r} (alg={profile.alg!r}): both sides need one "
            f"profile; provision the device again under it",
            crypto_profile=profile.name, alg=profile.alg))


def _required_components(*, has_body: bool, has_idempotency_key: bool) -> list[str]:
    required = ['"@method"', '"@path"', '"@query"', '"content-digest"']
    if has_body:
        required.append('"content-type"')
    if has_idempotency_key:
        required.append('"idempotency-key"')
    return required


# header fields a signature reads: each may appear once (two lines would be combined, and
# which one a proxy or framework then acts on is anyone's guess)
_SINGLE_FIELDS = ("signature", "signature-input", "content-digest", "content-type",
                  IDEMPOTENCY_HEADER.lower())


def _param_missing(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.SIGNATURE_PARAM_MISSING, message)


def _check_profile(lines: HeaderList, window_s: int) -> None:
    """The request profile's structural rules, before any cryptography: header lines once
    each, exactly one signature, labelled ``kiosk``, and its parameters present and typed
    (``created`` < ``expires`` ≤ ``created`` + ``window_s``, ``alg``, ``keyid``, ``nonce``)."""
    counts: dict[str, int] = {}
    for name, _ in lines:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    twice = [n for n in _SINGLE_FIELDS if counts.get(n, 0) > 1]
    if twice:
        raise ProtocolError(ErrorCode.BAD_SIGNATURE, f"header sent more than once: {twice[0]}")
    fields = {name.lower(): value for name, value in lines}
    try:
        inputs = http_sf.parse(fields["signature-input"].encode(), tltype="dictionary")
        signatures = http_sf.parse(fields["signature"].encode(), tltype="dictionary")
    except Exception:
        raise ProtocolError(ErrorCode.BAD_SIGNATURE,
                            "Signature or Signature-Input is not a valid dictionary") from None
    if len(inputs) > 1 or len(signatures) > 1:
        raise ProtocolError(ErrorCode.BAD_SIGNATURE, "a request carries exactly one signature")
    if REQUEST_LABEL not in inputs or REQUEST_LABEL not in signatures:
        raise ProtocolError(ErrorCode.SIGNATURE_MISSING,
                            f"no signature labelled {REQUEST_LABEL!r}")
    params = inputs[REQUEST_LABEL][1]
    created, expires = params.get("created"), params.get("expires")
    if type(created) is not int:
        raise _param_missing("signature has no integer 'created' parameter")
    if type(expires) is not int or not created < expires <= created + window_s:
        raise _param_missing(f"signature needs an integer 'expires' after 'created' and at "
                             f"most {window_s} s after it")
    for name in ("alg", "keyid"):
        if not isinstance(params.get(name), str) or not params[name]:
            raise _param_missing(f"signature has no '{name}' parameter")
    nonce = params.get("nonce")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= MAX_NONCE_LEN:
        raise _param_missing(f"signature needs a 'nonce' of 1-{MAX_NONCE_LEN} characters")


def claimed_key_id(headers: Iterable[tuple[str, str]]) -> str | None:
    """The ``keyid`` a request's ``kiosk`` signature names, unverified (None if unreadable):
    what the platform counts requests and failures by before it verifies anything."""
    value = next((v for k, v in headers if k.lower() == "signature-input"), None)
    if value is None:
        return None
    try:
        member = http_sf.parse(value.encode(), tltype="dictionary").get(REQUEST_LABEL)
    except Exception:
        return None
    key_id = member[1].get("keyid") if member else None
    return key_id if isinstance(key_id, str) and 0 < len(key_id) <= 64 else None


class RequestVerifier:
    """Server side: verify a device request; ``lookup_key`` raises UNKNOWN_KEY/DEVICE_REVOKED.

    Remembering nonces is the caller's job (it needs storage); the verified nonce and its
    ``created`` time are returned for that.
    """

    def __init__(self, lookup_key: Callable[[str], PublicKey], *,
                 profile: str | CryptoProfile = DEFAULT_PROFILE, skew_s: int = DEFAULT_SKEW_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.profile = get_profile(profile)
        self._verifier = _WindowedVerifier(_KeyLookup(lookup_key), skew_s, clock, self.profile)
        self._validity_s = max(DEFAULT_SKEW_S, skew_s)

    def verify(self, method: str, url: str, headers: Iterable[tuple[str, str]],
               body: bytes) -> VerifiedRequest:
        lines = HeaderList(headers)
        names = {name.lower() for name, _ in lines}
        if "signature" not in names or "signature-input" not in names:
            raise ProtocolError(ErrorCode.SIGNATURE_MISSING,
                                "request has no Signature and Signature-Input headers")
        _check_profile(lines, self._validity_s)
        try:
            result = self._verifier.verify(WireRequest(method, url, lines), max_age=None,
                                           expect_tag=REQUEST_TAG, expect_label=REQUEST_LABEL)[0]
        except _Rejected as exc:
            raise exc.error from None
        except HTTPMessageSignaturesException as exc:
            raise ProtocolError(ErrorCode.BAD_SIGNATURE, str(exc)) from None
        covered = result.covered_components
        missing = [c for c in _required_components(
            has_body=bool(body), has_idempotency_key=IDEMPOTENCY_HEADER.lower() in names)
            if c not in covered]
        if missing:
            raise ProtocolError(ErrorCode.COMPONENT_MISSING,
                                "signature does not cover required components",
                                missing=[m.strip('"') for m in missing])
        nonce = str(result.nonce)
        verify_content_digest(covered['"content-digest"'], body, self.profile)
        return VerifiedRequest(key_id=str(result.parameters["keyid"]), nonce=nonce,
                               created=int(result.parameters["created"]),
                               covered=tuple(k.strip('"') for k in covered
                                             if k != '"@signature-params"'))


_KEPT_ANSWER_HEADERS = ("content-type", "content-digest", "signature-input", "signature")
_KEPT_REQUEST_HEADERS = ("signature-input", "signature")
FOREVER_S = 100 * 365 * 86400  # a kept answer is checked for its signature, not its age


@dataclass(frozen=True)
class SignedAnswer:
    """A platform answer as received, kept so its signature can be checked again later: a
    settlement receipt the platform cannot disown (and a device cannot forge)."""

    status: int
    headers: dict[str, str]  # the answer's content and signature headers
    body: bytes
    request_headers: dict[str, str]  # our request's signature, which the answer covers

    @classmethod
    def of(cls, response: requests.Response) -> SignedAnswer:
        request = response.request
        kept = {k.lower(): v for k, v in (request.headers.items() if request else ())
                if k.lower() in _KEPT_REQUEST_HEADERS}
        return cls(response.status_code,
                   {k.lower(): v for k, v in response.headers.items()
                    if k.lower() in _KEPT_ANSWER_HEADERS}, response.content, kept)

    def to_json(self) -> str:
        return json.dumps({"status": self.status, "headers": self.headers,
                           "body": base64.b64encode(self.body).decode("ascii"),
                           "request_headers": self.request_headers}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SignedAnswer:
        data = json.loads(text)
        return cls(int(data["status"]), dict(data["headers"]), base64.b64decode(data["body"]),
                   dict(data["request_headers"]))

    def verify(self, server_public_key: PublicKey) -> int:
        """The answer's ``created``; UNTRUSTED_RESPONSE unless the pinned key signed exactly
        this body for exactly that request."""
        request = requests.Request("POST", "http://kept.invalid/").prepare()
        request.headers.update(self.request_headers)
        response = requests.Response()
        response.status_code = self.status
        response.headers.update(self.headers)
        response._content = self.body
        response.request = request
        return ResponseVerifier(server_public_key, skew_s=FOREVER_S).verify(response)


class ResponseVerifier:
    """Kiosk side: accept a response only if the pinned server key signed it for our request.

    The window is checked after the signature: an authentic answer outside it is refused
    with its ``created`` in ``details``, so the device learns the platform's time from it.
    """

    def __init__(self, server_public_key: PublicKey, *, skew_s: int = DEFAULT_SKEW_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.profile = profile_of(server_public_key)
        self.key_id = fingerprint(server_public_key)
        resolver = MappingKeyResolver(public_keys={self.key_id: server_public_key},
                                      private_keys={})
        self.skew_s = skew_s
        self.clock = clock
        self._verifier = _WindowedVerifier(resolver, None, clock, self.profile)

    def verify(self, response: requests.Response) -> int:
        """The answer's ``created`` (platform time); UNTRUSTED_RESPONSE unless ``response``
        is authentic, complete and within the window."""
        try:
            result = self._verifier.verify(response, max_age=None, expect_tag=RESPONSE_TAG)[0]
        except _Rejected as exc:
            raise ProtocolError(ErrorCode.UNTRUSTED_RESPONSE, exc.error.message) from None
        except HTTPMessageSignaturesException as exc:
            raise ProtocolError(ErrorCode.UNTRUSTED_RESPONSE, str(exc)) from None
        if result.parameters.get("keyid") != self.key_id:
            raise ProtocolError(ErrorCode.UNTRUSTED_RESPONSE, "response signed by another key")
        required = ['"@status"', '"content-digest"']
        if response.content:
            required.append('"content-type"')
        request = response.request
        if request is not None and "signature" in {k.lower() for k in request.headers}:
            required.append(_BOUND_REQUEST_SIGNATURE)
        else:
            required.extend(_REQUEST_TARGET)
        covered = result.covered_components
        missing = [c for c in required if c not in covered]
        if missing:
            raise ProtocolError(ErrorCode.UNTRUSTED_RESPONSE,
                                f"response signature does not cover {', '.join(missing)}")
        try:
            verify_content_digest(covered['"content-digest"'], response.content, self.profile)
        except ProtocolError as exc:
            raise ProtocolError(ErrorCode.UNTRUSTED_RESPONSE, exc.message) from None
        created = int(result.parameters["created"])
        off = self.clock() - created
        if abs(off) > self.skew_s:
            # only an answer bound to our own fresh request says what time it is now: an
            # unbound one (public routes) could be an old recording
            bound = {"created": created} if _BOUND_REQUEST_SIGNATURE in covered else {}
            raise ProtocolError(ErrorCode.UNTRUSTED_RESPONSE,
                                f"answer signed {off:+.0f} s from this device's clock, outside "
                                f"±{self.skew_s} s: check the clock", **bound)
        return created
