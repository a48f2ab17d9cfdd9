"""CLI command implementations; ``kiosk.cli`` wires them into one argument parser."""
