"""Tests of detections.store."""
