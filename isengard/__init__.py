"""Isengard: a GUI-first studio for personalised AI images."""

__version__ = "0.1.0"
