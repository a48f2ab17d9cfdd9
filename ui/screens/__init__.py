"""The patient screens, one small module each; ``ui.kiosk_window`` picks one per flow state."""
