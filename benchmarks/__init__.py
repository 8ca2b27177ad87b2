"""Benchmarks (``make bench``): tables of accuracy and speed; not tests."""
