"""The escalation service's use cases: they take ports (`ports.py`), call the domain and raise
domain errors; `bootstrap.py` wires the PostgreSQL adapters into them."""
