"""Which base model to start with on this machine, and why (shown in the studio and by `doctor`).

Licence-clean families come first: a business may use their weights. Among the models whose GPU memory
need fits the card, the largest wins (the bigger model is the better one in this catalogue); without a
GPU the lightest licence-clean model is named, since training needs a GPU anyway.
"""

from __future__ import annotations

from isengard.models.catalogue import BaseModel


def recommend_base(
    models: list[BaseModel], vram_gb: float | None, needs: dict[str, float | None] | None = None
) -> tuple[BaseModel, str]:
    """`needs`: the least GPU memory each family trains in, from the memory model (its lightest preset's
    expected peak); a family without one goes by the catalogue's `vram_gb`."""
    needs = needs or {}

    def need(m: BaseModel) -> float:
        return needs.get(m.family) or m.vram_gb

    real = [m for m in models if not m.tiny and not m.custom and m.vram_gb]
    if not real:
        raise ValueError("the catalogue lists no downloadable base model")
    clean = [m for m in real if m.commercial] or real
    if vram_gb is None:
        pick = min(clean, key=need)
        return (
            pick,
            f"No NVIDIA GPU found: {pick.label} is the lightest model whose licence allows commercial use.",
        )
    fitting = [m for m in clean if need(m) <= vram_gb * 0.97]  # cards report a little under their size
    if not fitting:
        pick = min(clean, key=need)
        return pick, (
            f"Your GPU has {vram_gb:.0f} GB, less than any model needs; {pick.label} is the lightest "
            f"(about {need(pick):.0f} GB) and may run out of memory."
        )
    pick = max(fitting, key=lambda m: (m.vram_gb, -real.index(m)))
    why = f"licence {pick.licence} allows commercial use" if pick.commercial else "the best that fits"
    return pick, (
        f"Your GPU has {vram_gb:.0f} GB: {pick.label} is the largest model that fits (it trains in about "
        f"{need(pick):.0f} GB), and its {why}."
    )
