"""Kiosk core: recognition, checkout flow, backend client, outbox, config and CLI."""

__version__ = "0.1.0"
