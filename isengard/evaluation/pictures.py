"""Score pictures made anywhere — ComfyUI, another trainer, a phone — against a character's photos, with the
same report a training gets: per picture its likeness and band, whether a face was found and which training
photo it copies; for the set, the face share, collapse and the typical score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from isengard.errors import InputError
from isengard.evaluation.calibration import band, in_words, margin_note, scale_sentence
from isengard.evaluation.copying import copied_photo, is_collapsed, thumbprint
from isengard.evaluation.likeness import reference_identity

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
MAX_PICTURES = 200


def picture_files(given: list[str | Path]) -> list[Path]:
    """The pictures among the given files and folders (folders searched through, in name order)."""
    found: list[Path] = []
    for item in given:
        path = Path(item).expanduser()
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES
            )
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"There is no file or folder {path.name!r}.", field="pictures")
    if not found:
        raise InputError("No pictures were given: add PNG, JPEG or WebP files.", field="pictures")
    if len(found) > MAX_PICTURES:
        raise InputError(
            f"Give at most {MAX_PICTURES} pictures at a time ({len(found)} given).", field="pictures"
        )
    return found


def score_pictures(
    evaluator, photos: list[Path], pictures: list[Path], name: str, progress=None, photo_names=None
) -> dict[str, Any]:
    """The report for `pictures` against the character's `photos` (named as `photo_names` says, else by
    their file names). `progress(done, total)` hears how far."""
    say = progress or (lambda done, total: None)
    names = [(photo_names or {}).get(p, p.name) for p in photos]
    same_person = evaluator.same_person_distance
    photo_readings = evaluator.read(photos)
    reference = reference_identity([r.embedding for r in photo_readings], same_person)
    prints = [thumbprint(p, r) for p, r in zip(photos, photo_readings, strict=True)]
    rows, embeddings = [], []
    for done, picture in enumerate(pictures):
        say(done, len(pictures))
        try:
            reading = evaluator.read([picture])[0]
        except Exception as exc:  # one unreadable file is its own row, not the end of the report
            rows.append(
                {"file": str(picture), "name": picture.name, "face": False, "problem": _unreadable(exc)}
            )
            continue
        score = reference.score(reading.embedding) if reading.found and reference is not None else None
        copied = copied_photo(thumbprint(picture, reading), prints, same_person)
        if reading.found:
            embeddings.append(reading.embedding)
        rows.append(
            {
                "file": str(picture),
                "name": picture.name,
                "face": reading.found,
                "likeness": None if score is None else round(score, 1),
                "band": band(score).words if score is not None else "no face found",
                "copies_photo": names[copied] if copied is not None else None,
                "yaw": None if reading.yaw is None else round(reading.yaw, 1),
            }
        )
    say(len(pictures), len(pictures))
    faces = sum(1 for row in rows if row.get("face"))
    counted = [row["likeness"] if row.get("likeness") is not None else 0.0 for row in rows]
    typical = float(np.median(counted)) if faces else None
    collapsed = is_collapsed(embeddings, same_person)
    summary = f"{faces} of {len(rows)} pictures show a face"
    if typical is not None:
        note = margin_note(typical)
        summary += f"; typical likeness {in_words(typical)}" + (f" ({note})" if note else "")
    copies = [row for row in rows if row.get("copies_photo")]
    if copies:
        summary += f"; {len(copies)} cop{'ies' if len(copies) != 1 else 'y'} of a training photo"
    if collapsed:
        summary += "; the faces are nearly identical in every picture (collapse)"
    return {
        "character": name,
        "scale": scale_sentence(),
        "summary": summary + ".",
        "faces": faces,
        "pictures": len(rows),
        "typical_likeness": None if typical is None else round(typical, 1),
        "band": None if typical is None else band(typical).words,
        "collapsed": collapsed,
        "copies": len(copies),
        "rows": rows,
        "photo_notes": [
            {"photo": names[o.index], "why": o.sentence} for o in (reference.odd_ones() if reference else [])
        ],
    }


def _unreadable(exc: Exception) -> str:
    return "not a picture that can be read" if "cannot identify" in str(exc) else "could not be read"
