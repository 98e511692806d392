"""Machine learning: tasks, preprocessing, architectures, training, calibration, metrics, heatmaps.

Imports neither the web framework nor the ORM, so it can be tested and benchmarked alone.
"""
