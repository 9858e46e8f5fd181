"""Low-VRAM mode in the built-in trainer: on a GPU the text encoders stay on the CPU and read the captions
there, the VAE works in tiles; everything else goes to the job's GPU. The pipeline here is a test double
(torch modules that record where they were sent), so the GPU's side is checked without a GPU."""

from __future__ import annotations

import types

import torch

from plugins.training.diffusers_trainer.warm_setup import WarmSetupMixin


class Part(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.sent_to: list[str] = []
        self.tiled = False

    def to(self, *args, **kwargs):
        self.sent_to.append(str(args[0]))
        return self

    def enable_tiling(self):
        self.tiled = True


class Pipe:
    def __init__(self):
        self.transformer, self.vae, self.text_encoder, self.text_encoder_2 = Part(), Part(), Part(), Part()
        self.sent_whole: list[str] = []

    @property
    def components(self):
        return {"transformer": self.transformer, "vae": self.vae, "text_encoder": self.text_encoder,
                "text_encoder_2": self.text_encoder_2, "tokenizer": object()}  # fmt: skip

    def to(self, device):
        self.sent_whole.append(device)


class Trainer(WarmSetupMixin):
    def __init__(self, low_vram: bool, device: str):
        self.params = types.SimpleNamespace(low_vram=low_vram)
        self.device, self.on_gpu = device, device.startswith("cuda")
        self.warm_key = None
        self.encoded_on: list[str] = []
        self.loaded = types.SimpleNamespace(pipe=Pipe())
        self.family = types.SimpleNamespace(
            encode_prompts=lambda loaded, prompts, where: self._record(prompts, where)
        )
        self.ctx = types.SimpleNamespace(log=lambda *a, **k: None)

    def _record(self, prompts, where):
        self.encoded_on.append(where)
        return [f"encoded {p}" for p in prompts]


def test_low_vram_on_a_gpu_keeps_the_text_encoders_on_the_cpu_and_tiles_the_vae():
    trainer = Trainer(low_vram=True, device="cuda:1")
    pipe = trainer.loaded.pipe
    trainer._place(pipe)
    assert pipe.sent_whole == [] and pipe.transformer.sent_to == ["cuda:1"] and pipe.vae.sent_to == ["cuda:1"]
    assert pipe.text_encoder.sent_to == [] and pipe.text_encoder_2.sent_to == [] and pipe.vae.tiled
    assert trainer._encode(["a photo of ada"]) == {"a photo of ada": "encoded a photo of ada"}
    assert trainer.encoded_on == ["cpu"] and "cuda:1" not in pipe.text_encoder.sent_to


def test_without_low_vram_or_without_a_gpu_the_pipeline_goes_whole():
    for trainer in (Trainer(low_vram=False, device="cuda:0"), Trainer(low_vram=True, device="cpu")):
        pipe = trainer.loaded.pipe
        trainer._place(pipe)
        assert pipe.sent_whole == [trainer.device] and not pipe.vae.tiled
        trainer._encode(["x"])
        assert trainer.encoded_on == [trainer.device]
