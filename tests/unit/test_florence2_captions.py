"""Florence-2's detailed captions made right for an identity LoRA: they start with the trigger and class word
and describe everything but the face, whatever the model wrote; the tiny offline Florence-2 captions real
photos through the plugin; offline without weights it says so in one sentence."""

from __future__ import annotations

import pytest
from PIL import Image

from plugins.base import PluginError, PluginSettings, SimpleRunContext
from plugins.captioning.florence2 import FACE, Florence2Captioner, identity_caption
from plugins.captioning.interface import CaptionRequest

WRITTEN = [  # what Florence-2's detailed caption task writes (its usual openings and face descriptions)
    "The image shows a young woman with long brown hair and blue eyes, wearing a red jacket and a white "
    "scarf. She is standing in a park with trees in the background. Her face is lit by soft sunlight.",
    "In this image, we can see a man sitting on a bench. He has a beard and freckles on his cheeks. He is "
    "smiling and holding a cup of coffee.",
    "A close-up of a person looking out of a window at night, with warm light on the curtains.",
    "The image is of a park at dusk with a woman walking a dog along the path.",
    "",
]


@pytest.mark.parametrize("written", WRITTEN)
def test_the_caption_starts_with_the_trigger_and_leaves_the_face_out(written):
    caption = identity_caption(written, "alcszx", "woman")
    assert caption.startswith("alcszx woman")
    assert not FACE.search(caption), caption
    assert caption.count("alcszx") == 1


def test_what_is_not_the_face_stays():
    caption = identity_caption(WRITTEN[0], "alcszx", "woman")
    for kept in (
        "long brown hair",
        "red jacket",
        "white scarf",
        "standing in a park",
        "trees in the background",
    ):
        assert kept in caption, caption
    assert "blue eyes" not in caption and "lit by soft sunlight" not in caption
    assert caption.startswith("alcszx woman, with long brown hair")  # the opening and the subject folded in
    man = identity_caption(WRITTEN[1], "brnzx", "man")
    assert man.startswith("brnzx man, sitting on a bench") and "smiling and holding a cup of coffee" in man
    assert "beard" not in man


def test_a_long_description_is_kept_within_what_a_text_encoder_reads():
    long = "The image shows a woman " + "standing near a very tall old tree in a green park " * 20
    assert len(identity_caption(long, "alcszx", "woman").split()) <= 72


def test_the_tiny_florence2_captions_photos_offline(tmp_path, tiny_models):
    from isengard.tiny.florence2 import build_tiny_florence2

    source = build_tiny_florence2(tiny_models / "tiny-florence2")
    plugin = Florence2Captioner(PluginSettings(mode="production", data_dir=tmp_path), source=str(source))
    assert plugin.availability().ok and plugin.weights_present()
    photos = []
    for i in range(2):
        photos.append(tmp_path / f"p{i}.png")
        Image.new("RGB", (120, 90), (30 * i, 100, 200)).save(photos[-1])
    seen = []

    class Recorder(SimpleRunContext):
        def progress(self, **fields):
            seen.append(fields)

    result = plugin.run(CaptionRequest(images=photos, trigger_word="zxq", class_word="person"), Recorder())
    assert len(result.captions) == 2 and all(c.startswith("zxq person") for c in result.captions)
    assert [f["message"] for f in seen if "message" in f][-2:] == [
        "Describing photo 1 of 2",
        "Describing photo 2 of 2",
    ]


def test_without_weights_and_offline_it_says_so(tmp_path):
    plugin = Florence2Captioner(PluginSettings(mode="production", data_dir=tmp_path))  # the Hub's, not here
    assert not plugin.weights_present()
    image = tmp_path / "p.png"
    Image.new("RGB", (64, 64)).save(image)
    with pytest.raises(PluginError, match="seems to be offline") as err:
        plugin.run(CaptionRequest(images=[image], trigger_word="zxq"), SimpleRunContext())
    assert err.value.code == "offline"
