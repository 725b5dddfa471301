"""Readers of each source, the canonical schema, the simulator, windowing and graphs."""
