"""The Training tab's likeness: a curve of how much the samples look like the person (with the face
model's same-person mark), the newest probes with their scores, and the recommendation at the end."""

from __future__ import annotations

import html
from pathlib import Path

from isengard.evaluation.calibration import in_words, scale_sentence
from isengard.evaluation.likeness import flag_words, pose_sentence
from isengard.evaluation.probes import framing_of
from isengard.evaluation.watch import load_summaries
from isengard.words import count

EXPLAIN = (
    "Likeness: how much the sample pictures look like the person, measured by a face model against their "
    f"photos; a probe without a face counts as 0. The scale: {scale_sentence()}"
)


def likeness_svg(summaries) -> str:
    """The likeness curve as an inline SVG: the face-counted likeness per step (0–100), the band below the
    same-person mark shaded, flagged steps (copying, one face for every prompt) marked in orange, steps
    with too few faces to judge drawn hollow."""
    points = [(s.step, s.score, s.flagged, s.judged) for s in summaries if s.score is not None]
    width, height, left, bottom, top = 420, 170, 34, 26, 12
    last = max([p[0] for p in points] + [1])
    plot_w, plot_h = width - left - 10, height - bottom - top

    def x(step: float) -> float:
        return left + plot_w * step / last

    def y(value: float) -> float:
        return top + plot_h * (1 - value / 100)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" style="max-width:560px" role="img" aria-label="Likeness by step">',
        f'<rect x="{left}" y="{y(50):.1f}" width="{plot_w}" height="{y(0) - y(50):.1f}" fill="#f3f4f6"/>',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(50):.1f}" y2="{y(50):.1f}" stroke="#9ca3af" stroke-dasharray="4 3"/>',
        f'<text x="{left + plot_w - 2}" y="{y(50) - 4:.1f}" text-anchor="end" font-size="12" fill="#6b7280">50: same person</text>',
    ]
    for value in (0, 50, 100):
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="12" fill="#6b7280">{value}</text>'
        )
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="12" fill="#6b7280">step 0</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end" font-size="12" fill="#6b7280">step {last:,}</text>'
    )
    if len(points) > 1:
        line = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v, _, _ in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#7c3aed" stroke-width="2"/>')
    for step, value, flagged, judged in points:
        colour = "#d97706" if flagged else "#7c3aed"
        fill = colour if judged else "#ffffff"
        note = " (a sign of over-training)" if flagged else "" if judged else " (too few faces to judge)"
        parts.append(
            f'<circle cx="{x(step):.1f}" cy="{y(value):.1f}" r="{5 if flagged else 3.5}" fill="{fill}" stroke="{colour}">'
            f"<title>step {step:,}: {html.escape(in_words(value))}{note}</title></circle>"
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
        overall = in_words(last.score) if last.score is not None else "no face found"
        parts.append(
            f"<div>Step {last.step:,}: <b>{html.escape(overall)}</b> · {html.escape(last.faces_sentence())}</div>"
            f'<div class="isg-muted">{html.escape(probes)}</div>'
        )
        if any(p.found for p in last.probes):
            parts.append(f'<div class="isg-muted">{html.escape(pose_sentence(last))}</div>')
        flags = [f"step {s.step:,}: {flag_words(s)}" for s in summaries if s.flagged]
        if flags:
            parts.append(
                f'<div class="isg-warn">⚠ {html.escape("; ".join(flags))} (a sign of over-training)</div>'
            )
    rec = (job.result or {}).get("recommendation") if job.status == "succeeded" else None
    if rec:
        css = "isg-ok" if rec.get("step") else "isg-muted"
        early = (job.result or {}).get("early_stop")
        if early:
            parts.append(f'<div class="isg-ok" id="train-early-stop">{html.escape(early["sentence"])}</div>')
        parts.append(f'<div class="{css}" id="train-recommendation">{html.escape(rec["reason"])}</div>')
        notes = rec.get("photo_notes") or [
            {"photo": p, "why": ""} for p in rec.get("photos_unlike_the_rest") or []
        ]
        if notes:
            text = (
                f"{count(len(notes), 'photo')} {'does' if len(notes) == 1 else 'do'} not look like the others "
                "and may be someone else — check them in Characters: "
                + "; ".join(f"{n['photo']} {n['why']}".strip() for n in notes)
                + "."
            )
            parts.append(f'<div class="isg-warn" id="train-unlike">⚠ {html.escape(text)}</div>')
    elif not summaries and not job.terminal:
        parts.append('<div class="isg-muted">Scored when the first samples appear.</div>')
    body = "".join(parts)
    return f'<div id="train-likeness"><b>Likeness to the person</b>{body}<div class="isg-muted">{html.escape(EXPLAIN)}</div></div>'


def recommended_file(job) -> str | None:
    rec = (job.result or {}).get("recommendation") if job and job.result else None
    return rec.get("file") if rec else None


def lora_report(ctx, lora_id) -> tuple[str, list, str | None]:
    """For a LoRA picked in the list: its training's likeness (curve, recommendation, pose), the probe
    pictures of its step with their scores, and the report as a JSON file to download."""
    import json

    from isengard.evaluation.watch import report

    if not lora_id:
        return "", [], None
    record = ctx.loras.get(int(lora_id))
    job_id, step = record.job_id, record.step
    summaries = load_summaries(ctx.runner.db, job_id) if job_id else []
    if record.metadata.get("likeness_job"):  # measured later with "Measure likeness" (or evaluate)
        job_id, step = record.metadata["likeness_job"], record.metadata.get("likeness_step")
        summaries = load_summaries(ctx.runner.db, job_id)
    if not summaries:
        message = 'No likeness was measured for this LoRA yet: press "Measure likeness".'
        return f'<div class="isg-muted">{html.escape(message)}</div>', [], None
    step = step if any(s.step == step for s in summaries) else summaries[-1].step
    chosen = next(s for s in summaries if s.step == step)
    final = (
        next((r for r in ctx.loras.for_character(record.character_id) if r.job_id == record.job_id), record)
        if record.character_id
        else record
    )
    rec = (final.metadata or {}).get("recommendation") or {}
    lines = [f'<div id="lora-likeness">{likeness_svg(summaries)}']
    score = "no face found" if chosen.score is None else in_words(chosen.score)
    flags = f" · {flag_words(chosen)}" if chosen.flagged else ""
    lines.append(
        f"<div>This file (step {step:,}): {html.escape(score)} · {html.escape(chosen.faces_sentence())}"
        f"{html.escape(flags)}</div>"
    )
    if any(p.found for p in chosen.probes):
        lines.append(f'<div class="isg-muted">{html.escape(pose_sentence(chosen))}</div>')
        lines.append(f'<div id="lora-pose">{pose_svg(chosen.probes)}</div>')
    if rec.get("reason"):
        lines.append(f'<div class="isg-ok">Recommended: {html.escape(rec["reason"])}</div>')
    lines.append("</div>")
    rows = ctx.runner.db.query(
        "SELECT * FROM probe_scores WHERE job_id=? AND step=? ORDER BY idx", (job_id, step)
    )
    pictures = [
        (
            row["image"],
            f"{framing_of(row['idx'])}: "
            + (in_words(row["likeness"]) if row["likeness"] is not None else "no face")
            + (" · copies a photo" if row["copies_photo"] is not None else ""),
        )
        for row in rows
        if Path(row["image"]).exists()
    ]
    target = ctx.paths.scratch("reports") / f"likeness-{record.name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report(ctx.runner.db, job_id), indent=2))
    return "".join(lines), pictures, str(target)


def thumbnails_html(pictures: list[tuple[str, str]]) -> str:
    """Probe pictures as small captioned thumbnails (files under the studio's served folders)."""
    from urllib.parse import quote

    if not pictures:
        return ""
    cells = "".join(
        f'<figure style="margin:0;width:128px"><img src="/gradio_api/file={quote(path)}" alt="{html.escape(caption)}"'
        f' style="width:128px;height:128px;object-fit:cover;border-radius:6px">'
        f'<figcaption class="isg-muted" style="font-size:12px">{html.escape(caption)}</figcaption></figure>'
        for path, caption in pictures
    )
    return f'<div style="display:flex;flex-wrap:wrap;gap:8px"><b style="width:100%">Its probe pictures</b>{cells}</div>'


def pose_svg(probes) -> str:
    """Likeness against head turn (yaw) for one file's probes: does the likeness hold in profile?"""
    points = [(p.yaw, p.likeness) for p in probes if p.likeness is not None and p.yaw is not None]
    if not points:
        return ""
    width, height, left, bottom = 320, 160, 30, 24
    plot_w, plot_h = width - left - 8, height - bottom - 8

    def x(yaw: float) -> float:
        return left + plot_w * (max(-60.0, min(60.0, yaw)) + 60) / 120

    def y(value: float) -> float:
        return 8 + plot_h * (1 - value / 100)

    dots = "".join(
        f'<circle cx="{x(a):.1f}" cy="{y(v):.1f}" r="4" fill="#7c3aed"><title>turned {a:.0f}°: {v:.0f}/100</title></circle>'
        for a, v in points
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" style="max-width:320px" role="img" aria-label="Likeness by head turn">'
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(50):.1f}" y2="{y(50):.1f}" stroke="#9ca3af" stroke-dasharray="4 3"/>'
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="8" y2="{8 + plot_h}" stroke="#e5e7eb"/>'
        f'<text x="{left}" y="{height - 6}" font-size="10" fill="#6b7280">turned left 60°</text>'
        f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end" font-size="10" fill="#6b7280">right 60°</text>'
        f'<text x="{left - 4}" y="{y(50) + 3:.1f}" text-anchor="end" font-size="10" fill="#6b7280">50</text>'
        f"{dots}</svg>"
    )
