"""Helpers for the Machine Learning for Behavioral Data course."""
__version__ = "0.1.0"
