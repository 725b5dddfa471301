"""Tests of detections.rules."""
