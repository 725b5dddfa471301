"""Tests of detections."""
