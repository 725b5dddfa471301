"""Tests of ingest.graphs."""
