"""Start the console on a counter device (``python -m ui cashier``) or beside the demo
kiosk: the platform service, printer, camera and heartbeat from the config, then the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from device.camera import camera_from_config
from device.printer import ReceiptPrinter
from kiosk.config import KioskConfig
from kiosk.counter.enrolment import camera_refusal
from kiosk.counter.pin import PinGate, hash_pin
from kiosk.counter.platform_service import PlatformCashierService
from kiosk.demo.local_platform import LocalPlatform
from kiosk.heartbeat import counter_heartbeat
from kiosk.provisioning import connect
from kiosk.receipts import Station
from kiosk.recognition.engine import FaceEngine
from kiosk.settlement.outbox import Outbox
from ui.cashier.console import CashierConsole

WINDOW_SIZE = (1280, 1024)  # the smallest counter screen it is laid out for


@dataclass
class Counter:
    """A running console and what it started (``stop`` undoes it)."""

    console: CashierConsole
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()


def start_counter(config: KioskConfig, engine: FaceEngine | None = None) -> Counter:
    """Everything but the event loop. A missing ``[cashier] pin_hash`` is one line saying
    how to set it (``PinMissing``), before any device is opened."""
    gate = PinGate(config.cashier.pin_hash, source=config.source)
    printer = ReceiptPrinter(config.devices.printer)
    service = PlatformCashierService(connect(config),
                                     Outbox(config.paths.data_path() / "counter-outbox.db"),
                                     printer, Station.of(config.site))
    service.desk.start()
    stops = [service.desk.stop]
    try:
        camera = camera_from_config(config.devices.camera).start()
        stops.append(camera.stop)
        heartbeat = counter_heartbeat(config, service.client, lambda: {
            "camera": camera.health(), "printer": printer.health()})
        heartbeat.start()
        stops.append(heartbeat.stop)
        console = CashierConsole(service, gate, engine=engine or FaceEngine.from_config(config),
                                 camera=camera, camera_refusal=camera_refusal(config),
                                 idle_lock_s=config.cashier.idle_lock_s,
                                 zone=config.site.zone())
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise
    return Counter(console, stops)


DEMO_PIN = "135790"  # printed by `python -m ui demo --counter`; demo terminals only


def start_demo_counter(platform: LocalPlatform, workdir: Path) -> Counter:
    """A counter device of the demo hospital: provisioned, its PIN set to ``DEMO_PIN``, its
    devices simulated (demo mode: enrolment may use the bundled photo's camera)."""
    config = platform.device("counter", "demo-counter", (
        f'[cashier]\npin_hash = "{hash_pin(DEMO_PIN)}"\n'
        '[demo]\nsimulated_devices = true\n'
        f'[devices.printer]\ndriver = "file"\npath = "{workdir / "counter-printer"}"\n'))
    return start_counter(config)
