"""Benchmarks: `make bench` (= python -m benchmarks). Targets live here, never in unit tests."""
