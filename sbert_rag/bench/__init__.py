"""Benchmarks against sentence-transformers, run in one process so the ratios are fair."""
