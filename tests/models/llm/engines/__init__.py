"""Tests of models.llm.engines."""
