"""Helpers that only benchmarks (and tests of the engines) use; not shipped in the package."""
