"""Detectors (temporal GNN, XGBoost + SHAP), evaluation, and the LLM summarizer."""
