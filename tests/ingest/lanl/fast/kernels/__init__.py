"""Tests of ingest.lanl.fast.kernels."""
