"""Style packs (`configs/style_packs.yaml`): a picture idea a person picks instead of writing a prompt,
rendered for the chosen model family with the person's trigger word slotted in."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from isengard.errors import InputError, SettingsError
from isengard.generation.sizes import ASPECTS
from isengard.settings import PROJECT_ROOT
from plugins.families import FAMILIES, family_info

STYLE_FILE = PROJECT_ROOT / "configs" / "style_packs.yaml"
TAG_FAMILIES = tuple(f for f in FAMILIES if family_info(f).text_encoder == "CLIP")  # SD 1.5, SDXL
PACK_COUNT = 8  # "make 8 in this style"


@dataclass(frozen=True)
class StylePack:
    id: str
    label: str
    description: str
    shape: str
    prompt: str
    tags: str
    negative: str = ""
    families: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StyledPrompt:
    prompt: str
    negative: str
    shape: str


def subject(trigger: str | None, class_word: str | None) -> str:
    if trigger:
        return f"{trigger} {class_word or 'person'}"
    return "a person"


def render(
    pack: StylePack, family: str, trigger: str | None = None, class_word: str | None = None
) -> StyledPrompt:
    """The pack's prompt for `family` with the person in it; the negative only where it does something."""
    own = pack.families.get(family, {})
    text = own.get("prompt") or (pack.tags if family in TAG_FAMILIES else pack.prompt)
    who = subject(trigger, class_word)
    prompt = " ".join(text.replace("{subject}", who).split())
    if prompt.startswith(who) and not trigger:
        prompt = prompt[0].upper() + prompt[1:]
    negative = own.get("negative", pack.negative) if family_info(family).negative_prompt else ""
    return StyledPrompt(prompt=prompt, negative=negative, shape=pack.shape)


def _check(raw: dict, where: Path) -> StylePack:
    need = ("id", "label", "description", "shape", "prompt", "tags")
    missing = [key for key in need if not str(raw.get(key) or "").strip()]
    if missing:
        raise SettingsError(f"{where.name}: the style {raw.get('id') or '?'} lacks {', '.join(missing)}.")
    if raw["shape"] not in ASPECTS:
        raise SettingsError(
            f"{where.name}: the style {raw['id']} has the shape {raw['shape']!r}; use one of {list(ASPECTS)}."
        )
    for key in ("prompt", "tags"):
        if "{subject}" not in raw[key]:
            raise SettingsError(f"{where.name}: the style {raw['id']}'s {key} must contain {{subject}}.")
    unknown = set(raw.get("families") or {}) - set(FAMILIES)
    if unknown:
        raise SettingsError(f"{where.name}: the style {raw['id']} names unknown families {sorted(unknown)}.")
    return StylePack(
        id=str(raw["id"]),
        label=str(raw["label"]),
        description=str(raw["description"]),
        shape=str(raw["shape"]),
        prompt=str(raw["prompt"]),
        tags=str(raw["tags"]),
        negative=str(raw.get("negative") or ""),
        families={k: dict(v) for k, v in (raw.get("families") or {}).items()},
    )


@lru_cache(maxsize=4)
def load_packs(path: Path = STYLE_FILE) -> tuple[StylePack, ...]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"The style packs in {path} could not be read: {exc}") from None
    packs = tuple(_check(raw, Path(path)) for raw in data.get("packs") or [])
    ids = [p.id for p in packs]
    if len(set(ids)) != len(ids):
        raise SettingsError(f"{Path(path).name} lists a style twice.")
    return packs


def pack(pack_id: str) -> StylePack:
    for candidate in load_packs():
        if candidate.id == pack_id:
            return candidate
    raise InputError(f"There is no style called {pack_id!r}.", field="style")
