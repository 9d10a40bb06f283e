"""Evaluation: datasets, metrics, runners, reports and regression gates."""
