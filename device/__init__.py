"""Hardware adapters: cameras, scanners, card readers, printers (the lowest layer)."""
