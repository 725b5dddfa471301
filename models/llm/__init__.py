"""Grounded alert summaries from a quantized local LLM."""
