"""notify's use cases: planning the notifications an event asks for (`planning.py`) and
delivering them (`delivery.py`). They take ports (`ports.py`); `bootstrap.py` wires the
PostgreSQL store, the renderers and the senders of each channel into them."""
