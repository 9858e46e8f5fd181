"""Tiny offline models: real architectures at toy size with random weights, built by the project.

They load through the same `from_pretrained` code as the real models, so tests and CPU demos exercise the
production paths without downloading anything.
"""
