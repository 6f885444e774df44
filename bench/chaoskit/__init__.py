"""The chaos suite's parts: the stack under test, the load, the faults, what is collected
afterwards and the invariants checked on it. `bench/chaos.py` runs them in that order."""
