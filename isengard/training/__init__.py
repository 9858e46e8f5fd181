"""Training: presets, the LoRA store and the training service behind the Training tab and `train`."""
