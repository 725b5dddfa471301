"""Tests of ingest.simulate."""
