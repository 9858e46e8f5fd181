from PIL import Image

from isengard.generation.metadata import (
    ImageParameters,
    LoraUse,
    parse_a1111,
    read_png_text,
    settings_from_png,
    write_png,
)


def _params(**kw) -> ImageParameters:
    args = dict(
        prompt="photo of zxq, smiling",
        negative_prompt="blurry, lowres",
        steps=30,
        sampler="DPM++ 2M",
        guidance=6.5,
        seed=1234,
        width=832,
        height=1216,
        model="sdxl-base",
        family="sdxl",
        model_hash="31e35c80fc",
        loras=[LoraUse("alice_sdxl", 0.8, "abcdef0123")],
        backend="diffusers",
    )
    args.update(kw)
    return ImageParameters(**args)


def test_a1111_text_has_the_fields_civitai_reads():
    text = _params().a1111_text()
    first, negative, fields = text.split("\n")
    assert first == "photo of zxq, smiling <lora:alice_sdxl:0.8>"
    assert negative == "Negative prompt: blurry, lowres"
    for part in (
        "Steps: 30",
        "Sampler: DPM++ 2M",
        "CFG scale: 6.5",
        "Seed: 1234",
        "Size: 832x1216",
        "Model hash: 31e35c80fc",
        "Model: sdxl-base",
        'Lora hashes: "alice_sdxl: abcdef0123"',
    ):
        assert part in fields


def test_flux_uses_distilled_cfg():
    text = _params(family="flux", guidance=3.5, negative_prompt="").a1111_text()
    assert "Distilled CFG Scale: 3.5" in text and "CFG scale: 1" in text and "Negative prompt" not in text


def test_parse_round_trip():
    parsed = parse_a1111(_params().a1111_text())
    assert parsed["prompt"] == "photo of zxq, smiling"
    assert parsed["negative_prompt"] == "blurry, lowres"
    assert (parsed["steps"], parsed["seed"], parsed["width"], parsed["height"]) == (30, 1234, 832, 1216)
    assert parsed["guidance"] == 6.5 and parsed["scheduler"] == "dpmpp_2m"
    assert parsed["loras"] == [{"name": "alice_sdxl", "strength": 0.8}]


def test_parse_a_real_a1111_string():
    text = (
        "masterpiece, a castle <lora:style:0.6>\nNegative prompt: ugly\nSteps: 20, Sampler: Euler a, "
        "Schedule type: Automatic, CFG scale: 7, Seed: 42, Size: 512x768, Model hash: 6ce0161689, "
        "Model: v1-5-pruned-emaonly, Version: v1.10.1"
    )
    parsed = parse_a1111(text)
    assert parsed["prompt"] == "masterpiece, a castle"
    assert parsed["scheduler"] == "euler_a" and parsed["steps"] == 20 and parsed["height"] == 768


def test_png_round_trip_prefers_the_full_json(tmp_path):
    path = write_png(
        tmp_path / "x.png",
        Image.new("RGB", (8, 8)),
        _params(),
        {"prompt": "photo of zxq", "seed": 1234, "steps": 30},
        {"prompt": '{"1": {}}'},
    )
    text = read_png_text(path)
    assert {"parameters", "isengard", "prompt"} <= set(text)
    assert settings_from_png(path) == {
        "prompt": "photo of zxq",
        "seed": 1234,
        "steps": 30,
        "source": "isengard",
    }


def test_png_from_a1111_is_read_from_parameters(tmp_path):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a dog\nSteps: 12, Sampler: Euler, CFG scale: 5, Seed: 7, Size: 64x64")
    path = tmp_path / "a1111.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    data = settings_from_png(path)
    assert data["source"] == "a1111" and data["prompt"] == "a dog" and data["seed"] == 7
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert settings_from_png(plain) == {}
