"""Tests of ingest.lanl.fast."""
