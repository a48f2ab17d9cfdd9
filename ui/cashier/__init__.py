"""The cashier console: hand-offs from the kiosks, look-up, settlement, reversal, reprint,
the day's list and reconciliation, consent withdrawal and assisted face enrolment."""
