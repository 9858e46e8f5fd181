"""Characters: a person's photos, their dataset checks and captions, ready for training."""
