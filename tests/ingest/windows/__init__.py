"""Tests of ingest.windows."""
