"""Tests of ingest.splunk."""
