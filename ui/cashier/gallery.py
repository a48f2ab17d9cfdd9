"""Screenshots of every console tab (``python -m ui screenshots --cashier``), against a real
demo platform started for the purpose: a kiosk hands three sessions over, a cash payment is
taken, two 亲情付 authorisations are recorded, and the console shows what a cashier would see
at 1280×1024 and 1920×1080."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from pathlib import Path

from PySide6.QtWidgets import QWidget

from kiosk.counter.family import CONSENT_VERSION
from kiosk.counter.pin import PinGate, hash_pin
from kiosk.counter.platform_service import PlatformCashierService
from kiosk.counter.service import LookupBy
from kiosk.demo.local_platform import LocalPlatform, make_platform
from kiosk.protocol.schemas import (
    AuthoriseRelativeRequest,
    Consent,
    PaymentMethod,
    Relation,
    SettleRequest,
)
from kiosk.provisioning import connect
from kiosk.settlement.outbox import Outbox
from ui.cashier.console import ENROL, FAMILY, LOOKUP, QUEUE, RECON, TODAY, CashierConsole
from ui.screenshots import pump, wait_until

SIZES = {"1280x1024": (1280, 1024), "1920x1080": (1920, 1080)}
PIN = "135790"


def _shot(widget: QWidget, path: Path) -> Path:
    for _ in range(3):
        pump(0)
    widget.grab().toImage().save(str(path))
    return path


def write_cashier_gallery(out_dir: Path, sizes: list[str] | None = None) -> list[Path]:
    """``out_dir/<tab>-<size>.png`` for the PIN page and every tab."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cashier-gallery-") as tmp:
        platform = make_platform(Path(tmp) / "platform")
        try:
            return _write(platform, Path(tmp), out_dir, sizes or list(SIZES))
        finally:
            platform.stop()


def _write(platform: LocalPlatform, tmp: Path, out_dir: Path, sizes: list[str]) -> list[Path]:
    kiosk = connect(platform.device("kiosk", "kiosk"))
    counter = connect(platform.device("counter", "counter"))
    for reason, patient, fen in (("face.not_recognised", None, None),
                                 ("second_factor.locked", "P1002", 7_074),
                                 ("credit.limit_exceeded", "P1003", 59_403)):
        kiosk.handoff(f"sess-{uuid.uuid4().hex}", reason, patient, fen)
    service = PlatformCashierService(counter, Outbox(tmp / "counter-outbox.db"))
    service.settle(SettleRequest(bill_id="B1006-1", patient_id="P1006",
                                 method=PaymentMethod.CASH), uuid.uuid4().hex)
    consent = Consent(text_version=CONSENT_VERSION, consented_at=dt.datetime.now(dt.UTC))
    for patient, relative, relation in (("P1005", "P1001", Relation.CHILD),
                                        ("P1001", "P1004", Relation.SPOUSE)):
        counter.authorise_relative(patient, AuthoriseRelativeRequest(
            relative_id=relative, relation=relation, consent=consent))
    day = dt.date.fromisoformat(counter.settlements_today().date)  # the platform's today
    console = CashierConsole(service, PinGate(hash_pin(PIN)), today=lambda: day)
    written = []
    try:
        for size in sizes:
            console.resize(*SIZES[size])
            console.show()
            written.append(_shot(console, out_dir / f"0-pin-{size}.png"))
            console.pin.setText(PIN)
            console.unlock()
            wait_until(lambda: console.queue.table.rowCount() >= 3, 10_000)
            written.append(_shot(console, out_dir / f"1-queue-{size}.png"))
            console.tabs.setCurrentIndex(LOOKUP)
            console.lookup.lookup_by.setCurrentIndex(list(LookupBy).index(LookupBy.PATIENT))
            console.lookup.key.setText("P1001")
            console.lookup.lookup()
            wait_until(lambda: console.lookup.quote is not None, 10_000)
            written.append(_shot(console, out_dir / f"2-lookup-{size}.png"))
            console.tabs.setCurrentIndex(TODAY)
            console.today_tab.refresh()
            wait_until(lambda: console.today_tab.table.rowCount() > 0, 10_000)
            written.append(_shot(console, out_dir / f"3-today-{size}.png"))
            console.tabs.setCurrentIndex(RECON)
            console.recon.refresh()
            wait_until(lambda: console.recon.text.text() != "", 10_000)
            written.append(_shot(console, out_dir / f"4-recon-{size}.png"))
            console.tabs.setCurrentIndex(ENROL)
            console.enrolment.ack.setChecked(True)
            written.append(_shot(console, out_dir / f"5-enrol-{size}.png"))
            console.tabs.setCurrentIndex(FAMILY)  # P1001 at the desk, from the look-up
            console.family.find_by.setCurrentIndex(list(LookupBy).index(LookupBy.PATIENT))
            console.family.find_key.setText("P1003")
            console.family.find()
            wait_until(lambda: console.family.dependants.rowCount() > 0 and
                       console.family.relatives.rowCount() > 0 and
                       console.family.found is not None, 10_000)
            console.family.ack.setChecked(True)
            written.append(_shot(console, out_dir / f"6-family-{size}.png"))
            console.tabs.setCurrentIndex(QUEUE)
            console.lock()
    finally:
        console.close()
    return written
