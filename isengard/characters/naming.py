"""Character names and trigger words: validation and a distinctive suggestion.

A trigger word is the rare token the LoRA learns to mean "this person". Made-up letter clusters work best:
a real word ("anna", "smith") drags in what the model already knows about it.
"""

from __future__ import annotations

import re
import unicodedata

from isengard.errors import InputError

NAME_MAX = 60
TRIGGER_RE = re.compile(r"^[a-z][a-z0-9_]{2,31}$")
RARE_SUFFIXES = ("zx", "xq", "qv", "vk", "kz", "zq", "xv", "qk")
COMMON_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "man",
        "woman",
        "person",
        "people",
        "boy",
        "girl",
        "child",
        "photo",
        "picture",
        "image",
        "portrait",
        "face",
        "style",
        "art",
        "dog",
        "cat",
        "style",
        "me",
        "you",
        "him",
        "her",
        "them",
    ]
)
CLASS_WORDS = ("woman", "man", "person", "girl", "boy", "child", "dog", "cat")


def clean_name(raw: str | None) -> str:
    """A display name: trimmed, 1–60 characters, no path separators or control characters."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    name = re.sub(r"\s+", " ", name)
    if not name:
        raise InputError("Give the character a name.", field="name")
    if len(name) > NAME_MAX:
        raise InputError(f"That name is {len(name)} characters long; keep it to {NAME_MAX}.", field="name")
    if "/" in name or "\\" in name:
        raise InputError("Names can't contain / or \\. Use letters, numbers, spaces or emoji.", field="name")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise InputError("That name contains invisible control characters; please retype it.", field="name")
    return name


def name_key(name: str) -> str:
    """What makes two names "the same": case and accents ignored."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


def _ascii_letters(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.lower())
    return "".join(ch for ch in decomposed if "a" <= ch <= "z")


def suggest_trigger(name: str, taken: set[str]) -> str:
    """A distinctive token from the name: its first letter and next consonants plus a rare suffix."""
    letters = _ascii_letters(name)
    skeleton = letters[:1] + re.sub(r"[aeiouy]", "", letters[1:])
    stem = (skeleton or "chr")[:4]
    if len(stem) < 3:
        stem = (stem + letters[1:] + "xxx")[:3]
    for suffix in RARE_SUFFIXES:
        candidate = f"{stem}{suffix}"
        if candidate not in taken:
            return candidate
    number = 2
    while f"{stem}zx{number}" in taken:
        number += 1
    return f"{stem}zx{number}"


def clean_trigger(raw: str | None) -> str:
    word = (raw or "").strip().lower()
    if not word:
        raise InputError("Choose a trigger word (a made-up word such as 'alcszx').", field="trigger")
    if " " in word:
        raise InputError("A trigger word is one word without spaces.", field="trigger")
    if not TRIGGER_RE.match(word):
        raise InputError(
            "A trigger word is 3–32 characters: lowercase letters, digits or _, starting with a letter.",
            field="trigger",
        )
    if word in COMMON_WORDS:
        raise InputError(
            f"'{word}' is an everyday word the model already knows; pick a made-up word.", field="trigger"
        )
    return word


def clean_class_word(raw: str | None) -> str:
    word = (raw or "person").strip().lower()
    if not re.fullmatch(r"[a-z ]{2,20}", word):
        raise InputError("The subject type is a short word such as woman, man or person.", field="class_word")
    return word


def folder_stem(name: str, trigger: str) -> str:
    """The readable start of a character's folder name (a random part makes it unique)."""
    letters = re.sub(
        r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", name.lower()).encode("ascii", "ignore").decode()
    )
    return (letters.strip("-")[:24] or trigger).strip("-") or "character"
