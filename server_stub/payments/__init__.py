"""Payment providers for repayment at the kiosk: the adapter interface (``provider``), the
WeChat Pay v3 notification shape (``v3``), the simulated provider's client (``simulated``)
and the simulator itself (``simulator``, a process of its own)."""
