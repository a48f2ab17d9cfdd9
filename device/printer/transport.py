"""Opening the configured printer link with python-escpos (file, serial, network, USB).

The "file" driver covers two cases: a device node such as ``/dev/usb/lp0`` (the Linux usblp
driver, the simplest way to drive a USB receipt printer) and, for demos and tests, a folder
where each job becomes one ``.escpos`` file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError
from escpos.printer import File, Network, Serial, Usb

from common.errors import ErrorCode
from device.config import PrinterConfig
from device.errors import DeviceConfigError, PrinterError, PrinterOffline


class _Serial(Serial):
    """python-escpos reads 16 bytes for a status reply, so on a serial line every query
    waited the full timeout; ``DLE EOT`` replies are exactly one byte."""

    def _read(self) -> bytes:
        assert self.device
        return self.device.read(1)


def describe(config: PrinterConfig) -> str:
    """Where jobs go, for messages."""
    return {
        "file": config.path,
        "serial": f"{config.port}@{config.baudrate}",
        "network": f"{config.host}:{config.tcp_port}",
        "usb": f"usb {config.usb_vendor_id:04x}:{config.usb_product_id:04x}",
    }.get(config.driver, config.driver)


def job_target(config: PrinterConfig, job_name: str) -> Path:
    path = Path(config.path)
    return path if config.path.startswith("/dev/") else path / f"{job_name}.escpos"


def open_link(config: PrinterConfig, job_name: str) -> Escpos:
    """An open python-escpos printer; ``PrinterOffline`` if it cannot be reached."""
    printer = _make(config, job_name)
    try:
        printer.open()
    except (EscposError, OSError) as exc:
        raise PrinterOffline(f"printer {describe(config)} is not reachable: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                             printer=describe(config)) from exc
    return printer


def check_spool_folder(config: PrinterConfig) -> bool:
    """For the file driver writing into a folder: True when jobs can be written there
    (checked without creating a job file); False for every other link."""
    if config.driver != "file" or config.path.startswith("/dev/"):
        return False
    folder = Path(config.path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PrinterOffline(f"cannot create printer folder {folder}: {exc}",
                             printer=describe(config)) from exc
    if not os.access(folder, os.W_OK):
        raise PrinterOffline(f"printer folder {folder} is not writable", printer=describe(config))
    return True


def can_read_status(printer: Escpos) -> bool:
    """File links are write-only; serial, network and USB links can answer DLE EOT."""
    return type(printer)._read is not Escpos._read


def _make(config: PrinterConfig, job_name: str) -> Escpos:
    profile = config.profile
    if config.driver == "none":
        raise PrinterError("no printer configured ([devices.printer] driver)",
                           code=ErrorCode.PRINTER_NOT_CONFIGURED)
    if config.driver == "file":
        target = job_target(config, job_name)
        if config.path.startswith("/dev/") and not _is_char_device(target):
            # opening a missing node "wb" as root would create a plain file in /dev
            raise PrinterOffline(f"printer device {target} is not present (unplugged?)",
                                 printer=describe(config))
        if not config.path.startswith("/dev/"):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise PrinterOffline(f"cannot create printer folder {target.parent}: {exc}",
                                     printer=describe(config)) from exc
        return File(str(target), profile=profile)
    if config.driver == "serial":
        return _Serial(devfile=config.port, baudrate=config.baudrate,
                       timeout=config.timeout_s, profile=profile)
    if config.driver == "network":
        return Network(config.host, port=config.tcp_port, timeout=config.timeout_s,
                       profile=profile)
    if config.driver == "usb":
        if not Usb.is_usable():
            raise PrinterError("USB printing needs pyusb and libusb-1.0 (python-escpos[usb]);"
                               " or use driver = \"file\" with the usblp device /dev/usb/lp0",
                               code=ErrorCode.PRINTER_USB_UNSUPPORTED)
        return Usb(config.usb_vendor_id, config.usb_product_id,
                   timeout=int(config.timeout_s * 1000), profile=profile)
    raise DeviceConfigError(f"unknown printer driver {config.driver!r}", driver=config.driver)


def _is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(path.stat().st_mode)
    except OSError:
        return False
