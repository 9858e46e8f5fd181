"""The built-in image backend (diffusers), one generation recipe per family in `families/`."""

from plugins.image.diffusers_backend.backend import DiffusersImageBackend

__all__ = ["DiffusersImageBackend"]
