"""What hardware is attached to this terminal, for IT (``kiosk devices list``).

Read from the kernel (sysfs, device nodes) and pyserial's port list; opening nothing, so it is
safe while the kiosk runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from serial.tools import list_ports

SYSFS_VIDEO = Path("/sys/class/video4linux")


@dataclass(frozen=True)
class Attached:
    kind: str  # "camera", "serial", "printer"
    path: str
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "description": self.description}


def cameras(sysfs: Path = SYSFS_VIDEO, dev: Path = Path("/dev")) -> list[Attached]:
    found = []
    for node in sorted(dev.glob("video*")):
        name_file = sysfs / node.name / "name"
        try:
            name = name_file.read_text(encoding="utf-8").strip()
        except OSError:
            name = "video device"
        found.append(Attached("camera", str(node), name))
    return found


def serial_ports() -> list[Attached]:
    return [Attached("serial", port.device, " ".join(
                filter(None, [port.description if port.description != "n/a" else "",
                              port.hwid if port.hwid != "n/a" else ""])) or "serial port")
            for port in sorted(list_ports.comports(), key=lambda p: p.device)]


def usb_printers(dev: Path = Path("/dev")) -> list[Attached]:
    return [Attached("printer", str(node), "USB printer (usblp)")
            for node in sorted(dev.glob("usb/lp*"))]


def attached_devices() -> list[Attached]:
    return [*cameras(), *serial_ports(), *usb_printers()]
