"""Observability: per-request traces (spans of every stage), their storage, export and metrics."""
