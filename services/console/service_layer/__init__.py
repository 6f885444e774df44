"""The console's use cases: projecting events into the read model, and reading it."""
