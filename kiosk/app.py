"""A running kiosk, assembled from its config: devices, engine, local gallery, platform
client, outbox, audit log, liveness and the runtime, with the devices wired to the flow.

The UI and ``kiosk run`` both start one of these; nothing here draws anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.devices import DeviceSet
from device.errors import DeviceError
from device.health import HealthState
from device.printer.receipt import Receipt
from kiosk.audit_log import AuditLog
from kiosk.config import KioskConfig, require_real_devices
from kiosk.flow.machine import LivenessFeed
from kiosk.gallery_store import GalleryStore, load_or_create_key
from kiosk.liveness import LivenessCheck, load_pad_model
from kiosk.protocol.voucher import EVoucherError, parse_evoucher
from kiosk.provisioning import connect
from kiosk.recognition.engine import FaceEngine
from kiosk.runtime import KioskRuntime
from kiosk.settlement.outbox import Outbox
from kiosk.voice import PromptPlayer

log = logging.getLogger(__name__)


def liveness_factory(config: KioskConfig, elderly: Callable[[], bool]
                     ) -> Callable[[], LivenessFeed] | None:
    """None when liveness is off (demo configs only; the screen then says so)."""
    cfg = config.liveness
    if cfg.policy == "off":
        return None
    pad = None
    if cfg.policy == "model":
        pad = load_pad_model(Path(cfg.model_manifest), config.models.store_path(),
                             threads=config.models.threads)
    size = (config.devices.camera.width, config.devices.camera.height)
    factor = config.flow.elderly_time_factor

    def make() -> LivenessFeed:
        return LivenessCheck(cfg, size, pad_model=pad,
                             time_factor=factor if elderly() else 1.0)

    return make


class KioskApp:
    def __init__(self, config: KioskConfig, *, engine: FaceEngine | None = None,
                 devices: DeviceSet | None = None) -> None:
        if devices is None:
            require_real_devices(config)
        self.config = config
        self.engine = engine or FaceEngine.from_config(config)
        data = config.paths.data_path()
        self.audit_log = AuditLog(data / "audit.jsonl")
        self.devices = devices or DeviceSet(config.devices)
        profile = config.server.crypto_profile
        store = GalleryStore(data / "gallery.enc",
                             load_or_create_key(data / "gallery.key", profile),
                             self.engine.pack, self.engine.manifest.embedding_dim, profile)
        gallery, state = store.load()
        self.client = connect(config)
        self.runtime = KioskRuntime(
            config, self.engine, gallery, self.client, Outbox(data / "outbox.db"),
            gallery_store=store, sync_state=state, printer=self._print,
            audit=self.audit_log.append, peripherals=self.devices.health)
        self.runtime.flow.liveness_factory = liveness_factory(
            config, lambda: self.runtime.flow.elderly)
        self.voice: PromptPlayer | None = None
        if config.voice.enabled and self.devices.speaker.configured:
            self.voice = PromptPlayer(self.devices.speaker, config.voice)
            self.runtime.voice = self.voice
            self.runtime.subscribe(self.voice.on_view)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> KioskApp:
        self.devices.start()
        if self.voice is not None:
            self.voice.start()
        self.runtime.start(camera=self.devices.camera)
        loops = [("kiosk-health", self._health_loop)]
        if self.config.devices.scanner.driver != "wedge":  # wedge scans arrive as UI key events
            loops.append(("kiosk-scanner", self._scanner_loop))
        for name, target in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.runtime.stop()
        if self.voice is not None:
            self.voice.stop()
        self.devices.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def pay_by_card(self, timeout_s: float = 30.0) -> None:
        """The patient chose the insurance card: read it off the UI thread."""
        def read() -> None:
            try:
                card = self.devices.card.read_card(timeout=timeout_s)
            except DeviceError as exc:
                self.audit_log.append("card.read_failed", {"code": exc.code})
                return
            self.runtime.card_read(card.card_no)

        threading.Thread(target=read, name="kiosk-card", daemon=True).start()

    def reprint(self, settlement_id: str) -> None:
        self.devices.printer.reprint(settlement_id)

    def _print(self, receipt: dict[str, Any]) -> None:
        self.devices.printer.print_receipt(Receipt.from_dict(receipt))

    def _scanner_loop(self) -> None:
        while not self._stop.is_set():
            scan = self.devices.scanner.read(timeout=0.5)
            if scan is None:
                continue
            try:
                voucher = parse_evoucher(scan.text)
            except EVoucherError as exc:
                self.audit_log.append("scan.rejected", {"code": exc.code, "source": scan.source})
                continue
            self.runtime.voucher_scanned(voucher.payload)

    def _health_loop(self) -> None:
        """Health is derived when asked (a long outage turns degraded into failed), so it is
        polled: each device's change of state or reason is one ``device.health`` record,
        the first one at start."""
        camera_ok = True
        seen: dict[str, tuple[str, str]] = {}
        while not self._stop.is_set():
            healths = self.devices.health()
            for device, health in healths.items():
                now = (str(health.state), health.reason)
                if seen.get(device) != now:
                    log.log(logging.INFO if health.state == HealthState.OK else logging.WARNING,
                            "device.health", extra={"device": device, "state": now[0],
                                                    "was": seen.get(device, ("", ""))[0],
                                                    "reason": now[1]})
                    seen[device] = now
            ok = healths["camera"].state != HealthState.FAILED
            if ok != camera_ok:
                camera_ok = ok
                self.runtime.camera_status(ok)
            self._stop.wait(1.0)
