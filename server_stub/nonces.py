"""Signature nonces: each may be used once within its signature's validity window.

The ``nonces`` table's primary key is the replay check, so a replay is refused by every
worker process and after a restart. A nonce is recorded before its request is answered —
inside the transaction of a money route (so the settlement and the spent nonce commit
together, in one group commit), or on its own before any other route runs. Recording it
also re-reads the device's status, so a revocation committed earlier is always seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Connection, String, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from kiosk.protocol.errors import ErrorCode, ProtocolError
from server_stub.db import devices, nonces

# one statement for both checks: the row is inserted only if the device is still active
# (no row: revoked), and the primary key refuses a nonce already spent
_SPEND = insert(nonces).from_select(
    ["key_id", "nonce", "expires_ms"],
    select(devices.c.device_id, bindparam("nonce", type_=String),
           bindparam("expires_ms", type_=BigInteger))
    .where(devices.c.device_id == bindparam("key_id"), devices.c.status == "active"))


@dataclass
class PendingNonce:
    device_id: str
    row: dict[str, Any] = field(repr=False)
    spent: bool = False  # set once the transaction that recorded it has committed

    def record(self, conn: Connection) -> None:
        """Inside the caller's transaction: DEVICE_REVOKED or NONCE_REPLAYED, else recorded."""
        try:
            recorded = conn.execute(_SPEND, self.row).rowcount
        except IntegrityError:
            raise ProtocolError(ErrorCode.NONCE_REPLAYED,
                                "this signature nonce was already used") from None
        if recorded != 1:
            raise ProtocolError(ErrorCode.DEVICE_REVOKED, "this device has been revoked")


def pending(device_id: str, nonce: str, created: int, skew_s: int) -> PendingNonce:
    return PendingNonce(device_id, {"key_id": device_id, "nonce": nonce,
                                    "expires_ms": (created + skew_s + 1) * 1000})


def purge(conn: Connection, *, now: int) -> int:
    """Forget nonces whose signatures have expired (they can no longer verify anyway)."""
    return conn.execute(delete(nonces).where(nonces.c.expires_ms < now)).rowcount
