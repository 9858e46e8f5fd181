"""Sharing with the Hugging Face Hub: publishing a LoRA with its card, bringing one in by repo name."""
