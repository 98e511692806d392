"""Earned autonomy: the evidence per site and label, the levels, drift and the metrics over time."""
