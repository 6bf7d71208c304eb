"""Benchmark helpers (PyTorch reference models); not part of the installed jaxlab package."""
