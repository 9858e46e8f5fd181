"""The ComfyUI image backend (see backend.py); model-file choice per family in model_files.py."""

from plugins.image.comfyui.backend import ComfyUIBackend, guess_family

__all__ = ["ComfyUIBackend", "guess_family"]
