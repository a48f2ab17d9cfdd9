"""Who and what the platform knows, one module per kind of record: ``sites``, ``devices``
(and the enrolment tokens that register them), ``patients`` (credit users, found by patient id
or card), ``vouchers`` (e-vouchers that identify a patient) and ``bills``.

Functions take an open transaction and the time, so the same code serves the HTTP API, the
admin CLI and tests.
"""

from __future__ import annotations

import secrets

from common.errors import CodedError, ErrorCode


class AdminError(CodedError):
    """Bad input to an admin operation (CLI): shown to the operator, nothing changed."""

    code = ErrorCode.ADMIN_INVALID_INPUT


def new_id(prefix: str) -> str:
    """A fresh random id, its kind named by the prefix (``dev_…``, ``bill_…``)."""
    return f"{prefix}_{secrets.token_hex(8)}"
