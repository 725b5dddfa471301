"""Tests of models.llm."""
