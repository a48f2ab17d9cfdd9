"""All of a terminal's devices, built from ``[devices]``, with one health view.

The kiosk core asks ``payment_methods()`` which ways to pay the hardware allows right now:
face needs a usable camera, the e-voucher a usable scanner, the insurance card a usable card
reader; the cashier is always there. The speaker allows no method: without it the prompts
are only not spoken.
"""

from __future__ import annotations

from types import TracebackType

from device.camera import FrameSource, camera_from_config
from device.card import CardReader, card_reader_from_config
from device.config import DevicesConfig
from device.health import DeviceHealth, EventSink
from device.printer import ReceiptPrinter
from device.scanner import Scanner, scanner_from_config
from device.speaker import Speaker


class DeviceSet:
    def __init__(self, config: DevicesConfig, on_event: EventSink | None = None) -> None:
        self.camera: FrameSource = camera_from_config(config.camera, on_event)
        self.scanner: Scanner = scanner_from_config(config.scanner, camera=self.camera,
                                                    on_event=on_event)
        self.card: CardReader = card_reader_from_config(config.card)
        self.printer = ReceiptPrinter(config.printer)
        self.speaker = Speaker(config.speaker)

    def start(self) -> DeviceSet:
        self.camera.start()
        self.scanner.start()
        self.speaker.start()
        return self

    def close(self) -> None:
        self.scanner.close()
        self.camera.stop()
        self.card.close()
        self.speaker.close()

    def __enter__(self) -> DeviceSet:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def health(self) -> dict[str, DeviceHealth]:
        return {"camera": self.camera.health(), "scanner": self.scanner.health(),
                "card": self.card.health(), "printer": self.printer.health(),
                "speaker": self.speaker.health()}

    def payment_methods(self) -> list[str]:
        health = self.health()
        needs = {"face": "camera", "card": "card", "evoucher": "scanner"}
        return [method for method, device in needs.items() if health[device].usable] + [
            "cashier"]
