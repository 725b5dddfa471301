"""Tests of ingest.lanl."""
