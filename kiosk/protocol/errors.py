"""Errors that cross the wire, as the body docs/protocol.md fixes.

A client decides what to do from ``code`` alone (retry, ask the cashier, show a message);
the status is there for HTTP tooling. The codes and their statuses are the registry's
(``common.errors.ErrorCode``, its members with a ``status``).
Every error body is ``{"error": {"code": ..., "message": ..., "details": {...}}}``.
"""

from __future__ import annotations

from typing import Any

from common.errors import CodedError, ErrorCode


class ProtocolError(CodedError):
    """An error that crosses the wire. ``details`` must be safe to log (no PII)."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        if code.status is None:
            raise ValueError(f"{code} is not a wire code")
        super().__init__(message, code=code, **details)
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @property
    def status(self) -> int:
        return self.code.status or 500

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": str(self.code), "message": self.message,
                          "details": self.details}}

    @classmethod
    def from_body(cls, status: int, body: Any) -> ProtocolError:
        """Rebuild the error a server sent; an unknown or garbled body becomes INTERNAL."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            try:
                code = ErrorCode(error.get("code"))
            except ValueError:
                code = None
            if code is not None and code.status is not None:
                details = error.get("details")
                return cls(code, str(error.get("message", "")),
                           **(details if isinstance(details, dict) else {}))
        return cls(ErrorCode.INTERNAL, f"unrecognised error response (HTTP {status})",
                   http_status=status)
