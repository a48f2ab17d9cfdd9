"""Gallery scope policy on a real SQLite file: which users each site's kiosks may match."""

from __future__ import annotations

import base64
import datetime as dt
import struct
from pathlib import Path

from kiosk.protocol import schemas
from kiosk.protocol.keys import generate_private_key
from server_stub import gallery
from server_stub.clock import now_ms
from server_stub.config import ServerConfig
from server_stub.keys import TemplateSealer
from server_stub.records.bills import NewItem, create_bill
from server_stub.records.devices import Device
from server_stub.records.patients import NewUser, enrol_user, set_user_status
from server_stub.records.sites import create_site
from server_stub.storage import Database

PACK = "opencv-zoo-sface"


def _template(seed: float) -> schemas.TemplatePayload:
    raw = struct.pack("<4f", seed, 1.0, 2.0, 3.0)
    return schemas.TemplatePayload(pack=PACK, dim=4, vector=base64.b64encode(raw).decode())


def test_scope_change_rebuilds_galleries_and_sync_follows(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    db.create_schema()
    sealer = TemplateSealer.load(tmp_path / "data.key")
    config, now = ServerConfig(), now_ms()
    with db.write() as conn:
        a = create_site(conn, code="A1", name="A", now=now)
        b = create_site(conn, code="B1", name="B", now=now)
        counter = Device("dev_c", a, schemas.Role.COUNTER, generate_private_key().public_key())
        for n, pid in enumerate(["U1", "U2"]):
            enrol_user(conn, NewUser(pid, "某某", f"33078419900101{n:04d}",
                                               f"1360000{n:04d}", "resident"), config, now)
            consent = schemas.Consent(text_version="v1", consented_at=dt.datetime.now(dt.UTC))
            gallery.enrol_template(conn, device=counter, patient_id=pid, sealer=sealer,
                                   scope="open_bills", now=now,
                                   req=schemas.EnrolTemplateRequest(template=_template(n + 1),
                                                                    consent=consent))
        create_bill(conn, site_id=a, patient_id="U1", visit_id="V", config=config,
                              now=now, items=[NewItem("exam", "x", 1, 100, True)])
        gallery.refresh_user(conn, "U1", "open_bills")
        assert gallery.apply_scope_policy(conn, "open_bills") == 0  # first start: recorded

    def members(site: str, cursor: int = 0) -> schemas.GallerySync:
        with db.read() as conn:
            return gallery.sync(conn, site_id=site, pack=PACK, cursor=cursor, limit=1,
                                scope="all_active", sealer=sealer)

    first = members(a)
    assert [e.patient_id for e in first.upserts] == ["U1"] and not first.more
    assert first.upserts[0].template == _template(1)
    assert members(b).upserts == []
    with db.write() as conn:
        assert gallery.apply_scope_policy(conn, "all_active") == 3
    page = members(a, first.cursor)
    assert [e.patient_id for e in page.upserts] == ["U2"] and not page.more
    first_b = members(b)  # one entry per page here, so a second page follows
    assert [e.patient_id for e in first_b.upserts] == ["U1"] and first_b.more
    assert [e.patient_id for e in members(b, first_b.cursor).upserts] == ["U2"]
    with db.write() as conn:
        set_user_status(conn, patient_id="U2", status="suspended", reason="test",
                                  actor="admin", now=now)
        gallery.refresh_user(conn, "U2", "all_active")
    later = members(a, page.cursor)
    assert later.deletions == ["U2"]
    db.dispose()
