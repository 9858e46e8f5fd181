"""The Gradio studio: one module per tab/panel, each with `render(ctx)` that lays out and wires its events."""
