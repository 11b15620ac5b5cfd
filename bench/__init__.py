"""Benchmarks of the backend against the naive firebase-admin pattern, side by side.

Run with ``bench/run`` (full, ~8 min) or ``bench/run --quick`` (smoke, < 1 min); both
write ``BENCHMARKS.md`` and its plots. Nothing here is imported by the backend, and
nothing here asserts on time: the figures are reported, not tested.
"""
