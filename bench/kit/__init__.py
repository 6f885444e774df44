"""Helpers shared by the benchmarks (not a benchmark: `make bench` runs bench/*.py only)."""
