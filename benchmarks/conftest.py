"""Benchmarks run with pytest-benchmark: `make bench`. Never assert timings."""
