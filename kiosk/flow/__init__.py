"""The checkout flow: a pure state machine (no Qt, no camera, no network).

The runtime feeds it frames' recognition results, backend replies and patient commands; it
answers with effects (what the runtime should do next) and a view (what the screen shows).
"""
