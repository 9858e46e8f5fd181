"""The Training tab's likeness: a curve of how much the samples look like the person (with the face
model's same-person mark), the newest probes with their scores, and the recommendation at the end."""

from __future__ import annotations

import html

from isengard.evaluation.probes import framing_of
from isengard.evaluation.watch import load_summaries

EXPLAIN = (
    "Likeness: how much the sample pictures look like the person, 0–100, measured by a face model against "
    "their photos. 50 is where it takes two faces for the same person; most good LoRAs reach 65–85."
)


def likeness_svg(summaries) -> str:
    """The likeness curve as an inline SVG: median likeness per step (0–100), the band below the
    same-person mark shaded, flagged steps (copying, one face for every prompt) marked in orange."""
    points = [(s.step, s.median_likeness, s.flagged) for s in summaries if s.median_likeness is not None]
    width, height, left, bottom, top = 600, 200, 36, 26, 10
    last = max([p[0] for p in points] + [1])
    plot_w, plot_h = width - left - 10, height - bottom - top

    def x(step: float) -> float:
        return left + plot_w * step / last

    def y(value: float) -> float:
        return top + plot_h * (1 - value / 100)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="Likeness by step">',
        f'<rect x="{left}" y="{y(50):.1f}" width="{plot_w}" height="{y(0) - y(50):.1f}" fill="#f3f4f6"/>',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(50):.1f}" y2="{y(50):.1f}" stroke="#9ca3af" stroke-dasharray="4 3"/>',
        f'<text x="{left + plot_w - 2}" y="{y(50) - 4:.1f}" text-anchor="end" font-size="11" fill="#6b7280">50: same person</text>',
    ]
    for value in (0, 50, 100):
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#6b7280">{value}</text>'
        )
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11" fill="#6b7280">step 0</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end" font-size="11" fill="#6b7280">step {last:,}</text>'
    )
    if len(points) > 1:
        line = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v, _ in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#7c3aed" stroke-width="2"/>')
    for step, value, flagged in points:
        colour = "#d97706" if flagged else "#7c3aed"
        parts.append(
            f'<circle cx="{x(step):.1f}" cy="{y(value):.1f}" r="{5 if flagged else 3.5}" fill="{colour}">'
            f"<title>step {step:,}: {value:.0f}/100{' (flagged)' if flagged else ''}</title></circle>"
        )
    if not points:
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{y(50) + 30:.1f}" text-anchor="middle" font-size="12" fill="#6b7280">No face in the samples yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def likeness_html(ctx, job) -> str:
    """The newest scored step's probes, flagged steps, and the recommendation when the training ended."""
    if job is None:
        return f'<div class="isg-muted" id="train-likeness">{html.escape(EXPLAIN)}</div>'
    summaries = load_summaries(ctx.runner.db, job.id)
    parts = [f'<div id="train-likeness-chart">{likeness_svg(summaries)}</div>'] if summaries else []
    if summaries:
        last = summaries[-1]
        probes = " · ".join(
            f"{framing_of(i)} {p.likeness:.0f}" if p.likeness is not None else f"{framing_of(i)}: no face"
            for i, p in enumerate(last.probes)
        )
        parts.append(f"<div>Step {last.step:,}: {html.escape(probes)}</div>")
        flags = [
            f"step {s.step:,} copies a training photo"
            if s.copying
            else f"step {s.step:,} gives one face for every prompt"
            for s in summaries
            if s.flagged
        ]
        if flags:
            parts.append(
                f'<div class="isg-warn">⚠ {html.escape("; ".join(flags))} (a sign of over-training)</div>'
            )
    rec = (job.result or {}).get("recommendation") if job.status == "succeeded" else None
    if rec:
        css = "isg-ok" if rec.get("step") else "isg-muted"
        parts.append(f'<div class="{css}" id="train-recommendation">{html.escape(rec["reason"])}</div>')
    elif not summaries and not job.terminal:
        parts.append('<div class="isg-muted">Scored when the first samples appear.</div>')
    body = "".join(parts)
    return f'<div id="train-likeness"><b>Likeness to the person</b>{body}<div class="isg-muted">{html.escape(EXPLAIN)}</div></div>'


def recommended_file(job) -> str | None:
    rec = (job.result or {}).get("recommendation") if job and job.result else None
    return rec.get("file") if rec else None
