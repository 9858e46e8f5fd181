import pytest

from isengard.characters.crop import face_crop_box
from plugins.captioning.blip import place_trigger
from plugins.captioning.template import render_template


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("a woman sitting on a bench", "zxq woman sitting on a bench"),
        ("The man in a red shirt", "zxq woman in a red shirt"),
        ("two dogs in the snow", "zxq woman, two dogs in the snow"),
        ("", "a photo of zxq woman"),
    ],
)
def test_trigger_goes_where_the_subject_is(caption, expected):
    assert place_trigger(caption, "zxq", "woman") == expected


def test_template_always_contains_the_trigger():
    assert render_template("a photo of {trigger}, a {class_word}", "zxq", "man") == "a photo of zxq, a man"
    assert render_template("studio portrait", "zxq", "man") == "zxq, studio portrait"
    assert render_template("", "zxq", "dog") == "a photo of zxq, a dog"


def test_crop_box_is_square_inside_and_around_the_face():
    left, top, right, bottom = face_crop_box(1600, 900, (1000, 300, 100, 100))
    assert right - left == bottom - top == 240
    assert left <= 1000 and right >= 1100 and top <= 300 and bottom >= 400
    # near an edge the window slides inside the picture instead of going out of it
    box = face_crop_box(500, 500, (0, 0, 300, 300))
    assert box[0] == 0 and box[1] == 0 and box[2] == 500 and box[3] == 500
    assert face_crop_box(1000, 600, (400, 100, 100, 100), aspect=0.8)[2:] != (0, 0)


def test_blip_that_cannot_download_says_so_in_a_sentence(tmp_path, monkeypatch):
    """Offline (the tests run with HF_HUB_OFFLINE=1) and nothing cached: one sentence that offers the
    template captioner, not transformers' OSError."""
    import pytest

    from plugins.base import PluginError, PluginSettings, SimpleRunContext
    from plugins.captioning.blip import BlipCaptioner
    from plugins.captioning.interface import CaptionRequest

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plugin = BlipCaptioner(
        PluginSettings(mode="production", data_dir=tmp_path), source="Salesforce/not-cached-here"
    )
    assert plugin.availability().ok  # it would download on first use
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (32, 32)).save(image)
    with pytest.raises(PluginError) as failed:
        plugin.run(CaptionRequest(images=[image], trigger_word="zxq"), SimpleRunContext())
    assert failed.value.code == "offline"
    assert "template captioner needs no download" in str(failed.value)
