"""The style packs in configs/: at least 12, each renders for every family with the person in the prompt."""

from __future__ import annotations

import pytest

from isengard.errors import SettingsError
from isengard.generation.sizes import ASPECTS
from isengard.generation.styles import load_packs, render
from plugins.families import FAMILIES, family_info


def test_there_are_at_least_twelve_distinct_packs():
    packs = load_packs()
    assert len(packs) >= 12
    assert len({p.label for p in packs}) == len(packs)
    for wanted in (
        "Professional headshot",
        "Studio portrait",
        "Outdoor candid",
        "Cinematic still",
        "Fantasy hero",
    ):
        assert wanted in {p.label for p in packs}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_pack_renders_for_every_family_with_the_trigger_word(family):
    for pack in load_packs():
        styled = render(pack, family, "adlvzx", "woman")
        assert "adlvzx woman" in styled.prompt, (pack.id, family)
        assert "{" not in styled.prompt and "  " not in styled.prompt
        assert styled.shape in ASPECTS
        if family_info(family).negative_prompt:
            assert styled.negative
        else:
            assert styled.negative == ""  # FLUX and FLUX.2 ignore a negative prompt: none is sent


def test_sd_families_get_tags_and_the_newer_ones_sentences():
    pack = next(p for p in load_packs() if p.id == "headshot")
    assert render(pack, "sdxl", "zq", "man").prompt.startswith("zq man, professional headshot")
    assert render(pack, "flux2_klein", "zq", "man").prompt.startswith(
        "A professional corporate headshot of zq man"
    )


def test_without_a_character_the_prompt_speaks_of_a_person():
    pack = next(p for p in load_packs() if p.id == "anime")
    assert render(pack, "zimage").prompt.startswith("A person drawn as an anime character")


def test_a_broken_pack_file_is_refused_with_a_sentence(tmp_path):
    bad = tmp_path / "packs.yaml"
    bad.write_text(
        "packs:\n  - id: x\n    label: X\n    description: d\n    shape: '5:1 odd'\n    prompt: '{subject}'\n    tags: '{subject}'\n"
    )
    with pytest.raises(SettingsError, match="shape"):
        load_packs(bad)
    bad.write_text(
        "packs:\n  - id: x\n    label: X\n    description: d\n    shape: '1:1 square'\n    prompt: 'no one'\n    tags: '{subject}'\n"
    )
    with pytest.raises(SettingsError, match="subject"):
        load_packs(bad)


def test_every_pack_fits_what_each_real_family_reads():
    """SD 1.5/SDXL read 77 CLIP tokens: the tags fit even the tiny CLIP tokenizer (a character-level toy
    that counts more tokens than the real one). The newer families read 512 T5 (or longer) tokens: the
    sentences are far below that (at most 40 words, about 60 real T5 tokens). The tiny test models read
    only 64 toy tokens; there a plain note says the end of a long prompt was left out."""
    from isengard.tiny.tokenizers import clip_tokenizer

    clip = clip_tokenizer()
    for pack in load_packs():
        for family in ("sd15", "sdxl"):
            tags = render(pack, family, "adlvzx", "woman").prompt
            assert len(clip(tags).input_ids) <= 77, (pack.id, family)
        for family in ("flux", "flux2", "zimage", "qwen_image"):
            assert len(render(pack, family, "adlvzx", "woman").prompt.split()) <= 40, (pack.id, family)
