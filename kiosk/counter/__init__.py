"""The counter's core, free of Qt: what the cashier console asks of the platform, the staff
PIN, checks of what staff type, the hand-off queue's bookkeeping, one key per confirmed
charge, and assisted enrolment's capture. ``ui.cashier`` draws it; this package never
imports ``ui``."""
