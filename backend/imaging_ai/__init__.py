"""Imaging AI: doctor-supervised medical image classification that learns from verified cases."""

__version__ = "0.1.0"
