"""Benchmarks: one script per measured claim (see RESULTS.md)."""
