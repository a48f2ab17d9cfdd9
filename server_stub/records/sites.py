"""Sites: the hospitals (or campuses) whose kiosks and counters the platform serves."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from server_stub import audit
from server_stub.db import sites
from server_stub.records import AdminError


def create_site(conn: Connection, *, code: str, name: str, now: int) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]{2,32}", code):
        raise AdminError("site code: 2-32 letters, digits or '-'")
    site_id = f"site_{code.lower()}"
    try:
        with conn.begin_nested():
            conn.execute(insert(sites).values(site_id=site_id, code=code, name=name,
                                              created_ms=now))
    except IntegrityError:
        raise AdminError(f"site code {code!r} already exists") from None
    audit.append(conn, at_ms=now, actor="admin", action="site.created", subject=site_id,
                 details={"code": code})
    return site_id


_site_codes: dict[str, str] = {}


def site_code(conn: Connection, site_id: str) -> str:
    """Site codes never change, so each is read once per process."""
    code = _site_codes.get(site_id)
    if code is None:
        code = _site_codes.setdefault(site_id, require_site(conn, site_id).code)
    return code


def require_site(conn: Connection, site_id: str) -> Any:
    row = conn.execute(select(sites).where(sites.c.site_id == site_id)).first()
    if row is None:
        raise AdminError(f"no site {site_id!r}")
    return row
