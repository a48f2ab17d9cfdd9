"""The staff PIN in front of the console: scrypt-hashed in the config, never stored plain,
compared in constant time, and locked for a while after too many wrong tries.

Encoded as ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be raised later
without invalidating PINs already configured (``python -m ui pin-hash`` makes one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from common.config_loader import ConfigError
from common.errors import ErrorCode
from kiosk.errors import KioskError

N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
PIN_FORMAT = re.compile(r"^[0-9]{4,12}$")
MAX_N = 2**20  # refuse configured costs that would take minutes (or all memory) to check


class PinError(KioskError):
    code = ErrorCode.PIN_INVALID

    def __init__(self, message: str, code: ErrorCode = ErrorCode.PIN_INVALID) -> None:
        super().__init__(message, code=code)


class PinMissing(ConfigError):
    """No ``[cashier] pin_hash``: a set-up step, said as the one command that fixes it."""

    code = ErrorCode.PIN_MISSING

    def __init__(self, source: str) -> None:
        super().__init__(f"{source or 'config'}: [cashier] pin_hash is not set; run "
                         "`python -m ui pin-hash` and put its output there")


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES,
                          maxmem=256 * 1024 * 1024)


def hash_pin(pin: str) -> str:
    if not PIN_FORMAT.match(pin):
        raise PinError("a staff PIN is 4 to 12 digits")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(pin, salt, N, R, P)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(key).decode()}"


def verify_pin(pin: str, encoded: str) -> bool:
    """True if ``pin`` matches; a malformed ``encoded`` is a ``PinError`` (pin.hash_invalid)."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        n_, r_, p_ = int(n), int(r), int(p)
        salt_b, key_b = base64.b64decode(salt, validate=True), base64.b64decode(key,
                                                                              validate=True)
    except ValueError as exc:
        raise PinError("the configured PIN hash is malformed", ErrorCode.PIN_HASH_INVALID) from exc
    if scheme != "scrypt" or not (2 <= n_ <= MAX_N and n_ & (n_ - 1) == 0) or not key_b:
        raise PinError("the configured PIN hash is not a usable scrypt hash",
                       ErrorCode.PIN_HASH_INVALID)
    if not PIN_FORMAT.match(pin):
        return False
    return hmac.compare_digest(_derive(pin, salt_b, n_, r_, p_)[:len(key_b)], key_b)


@dataclass(frozen=True)
class PinResult:
    ok: bool
    attempts_left: int
    locked_for_s: int = 0


class PinGate:
    """Counts wrong PINs; after ``max_attempts`` refuses every try for ``lockout_s``."""

    def __init__(self, encoded: str, *, max_attempts: int = 5, lockout_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, source: str = "") -> None:
        if not encoded:
            raise PinMissing(source)
        verify_pin("0000", encoded)  # a malformed hash fails at start-up, not at the counter
        self.encoded = encoded
        self.max_attempts = max_attempts
        self.lockout_s = lockout_s
        self.clock = clock
        self.failures = 0
        self.locked_until = 0.0

    def attempt(self, pin: str) -> PinResult:
        now = self.clock()
        if now < self.locked_until:
            return PinResult(False, 0, int(self.locked_until - now) + 1)
        if verify_pin(pin, self.encoded):
            self.failures = 0
            return PinResult(True, self.max_attempts)
        self.failures += 1
        if self.failures >= self.max_attempts:
            self.failures = 0
            self.locked_until = now + self.lockout_s
            return PinResult(False, 0, int(self.lockout_s))
        return PinResult(False, self.max_attempts - self.failures)
