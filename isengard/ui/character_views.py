"""HTML pieces of the Characters tab: the readiness card, the upload result, a photo's details, cards."""

from __future__ import annotations

import html

from PIL import Image, ImageDraw

from isengard.characters.report import PhotoReport, Readiness
from isengard.words import count

STATUS = {
    "ready": ("ok", "Ready to train"),
    "needs_attention": ("warn", "Can train — a few things to improve"),
    "not_ready": ("bad", "Not ready yet"),
}


def readiness_card(state: Readiness | None, name: str = "", *, empty: str = "") -> str:
    if state is None:
        text = html.escape(empty or "Create a character on the left to begin.")
        return f'<div class="isg-card isg-muted" id="char-readiness-card">{text}</div>'
    css, title = STATUS[state.status]
    fixes = "".join(f"<li>{html.escape(fix)}</li>" for fix in state.fixes)
    fixes_html = f"<ul>{fixes}</ul>" if fixes else ""
    note = (
        '<div class="isg-muted">Suggestions only: you can train whenever you like.</div>'
        if state.status == "needs_attention"
        else ""
    )
    return (
        f'<div class="isg-card" id="char-readiness-card" data-status="{state.status}">'
        f'<b class="isg-{css}">{title}</b> · {html.escape(state.headline)}'
        f"<div>{count(state.photo_count, 'photo')}: {state.good_count} good, {state.warning_count} with warnings"
        f"{f', {state.unchecked_count} not checked' if state.unchecked_count else ''}.</div>"
        f"{fixes_html}{note}</div>"
    )


def upload_result(summary: str, rejected: list[tuple[str, str]], duplicates: list[str]) -> str:
    rows = "".join(
        f'<li class="isg-bad"><b>{html.escape(name)}</b>: {html.escape(reason)}</li>'
        for name, reason in rejected
    )
    rows += "".join(f"<li class='isg-warn'><b>{html.escape(n)}</b>: already added</li>" for n in duplicates)
    return f'<div class="isg-card" id="char-upload-summary">{html.escape(summary)}<ul>{rows}</ul></div>'


def photo_detail(photo, report: PhotoReport | None) -> str:
    if photo is None:
        return '<div class="isg-muted">Click a photo to see its checks and edit its caption.</div>'
    chips = ""
    if report:
        chips = "".join(
            f'<span class="isg-chip {f.severity}" title="{html.escape(f.fix)}">{html.escape(f.label)}</span>'
            for f in report.flags
        )
        fixes = "".join(
            f"<li>{html.escape(f.fix)}</li>" for f in report.flags if f.fix and f.severity == "warn"
        )
        if fixes:
            chips += f"<ul>{fixes}</ul>"
    crop = " · using the cropped version" if photo.use_crop else ""
    return (
        f'<div class="isg-card" id="char-photo-detail" data-photo="{photo.id}"><b>{html.escape(photo.original_name)}</b> · '
        f"{photo.width}×{photo.height} {photo.format}{crop}<div>{chips}</div></div>"
    )


def avatar(name: str, size: int = 256) -> Image.Image:
    """A plain initials picture for a character without photos."""
    initials = "".join(part[:1] for part in name.split()[:2]).upper() or "?"
    image = Image.new("RGB", (size, size), (237, 233, 254))
    draw = ImageDraw.Draw(image)
    draw.text((size // 2, size // 2), initials, fill=(76, 29, 149), anchor="mm", font_size=size // 3)
    return image


def remove_upload_copies(paths, uploaded: list[str]) -> int:
    """Delete Gradio's temporary copies of uploaded files once they are stored (only inside scratch)."""
    import contextlib
    from pathlib import Path

    scratch = Path(paths.tmp).resolve()
    removed = 0
    for name in uploaded:
        copy = Path(name).resolve()
        if copy.is_relative_to(scratch) and copy.is_file():
            copy.unlink(missing_ok=True)
            removed += 1
            with contextlib.suppress(OSError):
                copy.parent.rmdir()  # Gradio keeps each upload in a folder of its own
    return removed


RING = {"ok": (22, 163, 74), "info": (22, 163, 74), "warn": (217, 119, 6), "bad": (220, 38, 38)}
PROBLEMS = ("no_face", "different_person")  # a red ring: the photo may hurt the likeness


def ring_severity(report: PhotoReport | None) -> str:
    if report is None or any(f.code == "unchecked" for f in report.flags):
        return "none"
    if any(f.code in PROBLEMS for f in report.flags):
        return "bad"
    return report.worst


def ringed_thumbnail(photo, report: PhotoReport | None, folder, size: int = 256):
    """A square thumbnail with a coloured ring — green good, amber warning, red problem — made once per
    photo, state and crop choice (cached in `folder`; written atomically)."""
    from pathlib import Path

    from PIL import ImageOps

    from isengard.storage.files import atomic_save

    severity = ring_severity(report)
    source = Path(photo.training_path)
    target = Path(folder) / f"{photo.id}-{photo.sha256[:10]}-{source.stem[-8:]}-{severity}.jpg"
    if target.exists():
        return target
    try:
        with Image.open(source) as opened:
            image = ImageOps.fit(ImageOps.exif_transpose(opened).convert("RGB"), (size, size))
    except OSError:
        return source  # unreadable just now: the file itself, without a ring
    if severity in RING:
        width = max(6, size // 28)
        ImageDraw.Draw(image).rectangle((0, 0, size - 1, size - 1), outline=RING[severity], width=width)
    return atomic_save(target, lambda tmp: image.save(tmp, format="JPEG", quality=88))


def character_card(character):
    """A character's card in the gallery of characters: their cover photo (or initials) and name."""
    label = f"{character.name} · {count(character.photo_count, 'photo')}"
    if character.cover and character.cover.exists():
        return (str(character.cover), label)
    return (avatar(character.name), label)
