"""Insurance / social-security card readers: a serial reference reader, a simulated one, and
a plug-in seam for vendor SDKs."""

from __future__ import annotations

import importlib

from device.card.base import CardData, CardReader
from device.card.serial_reader import SerialCardReader
from device.card.simulated import SimulatedCardReader
from device.config import CardReaderConfig
from device.errors import DeviceConfigError

__all__ = ["CardData", "CardReader", "card_reader_from_config"]


def card_reader_from_config(config: CardReaderConfig) -> CardReader:
    if config.driver == "none":
        from device.unconfigured import UnconfiguredCardReader

        return UnconfiguredCardReader()
    if config.driver == "simulated":
        return SimulatedCardReader(CardData(config.simulated_card_no, config.simulated_name),
                                   delay_s=config.simulated_delay_s)
    if config.driver == "serial":
        return SerialCardReader(config.port, baudrate=config.baudrate,
                                timeout_s=config.timeout_s)
    if config.driver.startswith("python:"):
        return _plugin(config)
    raise DeviceConfigError(f"unknown card reader driver {config.driver!r}",
                            driver=config.driver)


def _plugin(config: CardReaderConfig) -> CardReader:
    """``python:package.module:ClassName`` - a vendor SDK wrapper, built with the config."""
    _, module_name, class_name = config.driver.split(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise DeviceConfigError(f"card reader plug-in {module_name}:{class_name} not found "
                                f"({exc})", driver=config.driver) from exc
    if not (isinstance(cls, type) and issubclass(cls, CardReader)):
        raise DeviceConfigError(f"{module_name}:{class_name} is not a CardReader subclass",
                                driver=config.driver)
    return cls(config)
