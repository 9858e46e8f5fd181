"""Small pieces of plain English the screens share."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 photo', '2 photos', '0 photos'."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def article(word: str) -> str:
    """'an Isengard image', 'a FLUX image': the article that sounds right before `word`."""
    return "an" if word[:1].lower() in "aeiou" else "a"
