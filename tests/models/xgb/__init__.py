"""Tests of models.xgb."""
