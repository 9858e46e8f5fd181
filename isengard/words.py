"""Small pieces of plain English the screens share."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 photo', '2 photos', '0 photos'."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def article(word: str) -> str:
    """'an Isengard image', 'a FLUX image': the article that sounds right before `word`."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def size_words(size: int | None) -> str:
    """A file's size as people read it: 840 kB, 230 MB, 12.3 GB."""
    if not size:
        return "size unknown"
    if size >= 1e9:
        return f"{size / 1e9:.1f} GB"
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
