"""Tests of models.gnn."""
