"""The ComfyUI backend against a fake server that behaves as the recorded captures show, plus replays of
each recorded scenario, template validation against the recorded /object_info, and failure cases."""

from __future__ import annotations

import copy
import json
import struct
import threading
from pathlib import Path

import pytest
from PIL import Image

from isengard.generation.metadata import read_png_text
from isengard.generation.service import GenerateForm
from isengard.settings import PROJECT_ROOT
from plugins.base import PluginError, PluginSettings, SimpleRunContext
from plugins.image.comfyui import ComfyUIBackend
from plugins.image.comfyui.client import (
    ComfyClient,
    ComfyExecutionError,
    ComfyInterrupted,
    ComfyUnreachable,
    ComfyValidationError,
    parse_binary,
)
from plugins.image.comfyui.errors import describe_validation
from plugins.image.comfyui.workflow import discover, fill, load_template, validate
from tests.fake_comfyui import FakeComfyUI, fixture, with_flux2
from tests.helpers import make_settings, wait_for

WORKFLOWS = PROJECT_ROOT / "workflows"


@pytest.fixture
def fake():
    server = FakeComfyUI().start()
    for folder, name in (
        ("checkpoints", "sd15_model.safetensors"),
        ("checkpoints", "dummy_model.safetensors"),
        ("checkpoints", "juggernautXL_v9.safetensors"),
        ("diffusion_models", "flux1-dev.safetensors"),
        ("text_encoders", "clip_l.safetensors"),
        ("text_encoders", "t5xxl_fp16.safetensors"),
        ("vae", "ae.safetensors"),
    ):
        server.add_model(folder, name)
    yield server
    server.stop()


# --- templates ---------------------------------------------------------------------------------------------


def test_every_template_is_valid_against_the_recorded_object_info():
    """0.3.64 has every node of the SD, FLUX.1, Z-Image and Qwen-Image graphs; FLUX.2's two nodes come
    with a newer server (their specs from ComfyUI's source)."""
    info = fixture("object_info.json")
    templates = discover(WORKFLOWS)
    assert set(templates) == {"flux", "sdxl", "sd15", "flux2_klein", "flux2", "zimage", "qwen_image"}
    for template in templates.values():
        served = with_flux2(info) if template.family in ("flux2_klein", "flux2") else info
        assert validate(template.graph, served, check_model_choices=False) == [], template.name
        assert {"prompt", "seed", "steps", "width", "height", "lora_name"} <= set(template.parameters)


def test_validation_finds_what_comfyui_would_refuse():
    info = fixture("object_info.json")
    template = discover(WORKFLOWS)["sd15"]
    graph = copy.deepcopy(template.graph)
    sampler = template.node_id("Sampler")
    graph[sampler]["inputs"]["steps"] = 0
    graph[sampler]["inputs"]["sampler_name"] = "magic"
    graph[sampler]["inputs"]["positive"] = [template.node_id("Latent"), 0]
    graph[template.node_id("Decode")]["class_type"] = "NoSuchDecode"
    del graph[template.node_id("Latent")]["inputs"]["batch_size"]
    problems = " | ".join(validate(graph, info, check_model_choices=False))
    for expected in (
        "steps=0 is outside 1..10000",
        "sampler_name='magic' is not one of",
        "expects CONDITIONING, gets LATENT",
        "no node type 'NoSuchDecode'",
        "required input 'batch_size' is missing",
    ):
        assert expected in problems


def test_templates_bind_by_title_and_chain_or_bypass_loras():
    template = discover(WORKFLOWS)["sd15"]
    none = fill(template, {"prompt": "hi", "seed": 5}, [])
    assert not any(n["class_type"] == "LoraLoader" for n in none.values())
    sampler = next(n for n in none.values() if n["class_type"] == "KSampler")
    checkpoint = next(k for k, n in none.items() if n["class_type"] == "CheckpointLoaderSimple")
    assert sampler["inputs"]["model"] == [checkpoint, 0] and sampler["inputs"]["seed"] == 5
    two = fill(template, {"prompt": "hi"}, [("a.safetensors", 0.7), ("b.safetensors", 0.3)])
    loras = {n["inputs"]["lora_name"]: (k, n) for k, n in two.items() if n["class_type"] == "LoraLoader"}
    assert set(loras) == {"a.safetensors", "b.safetensors"}
    first_id, second = loras["a.safetensors"][0], loras["b.safetensors"][1]
    assert second["inputs"]["model"] == [first_id, 0] and second["inputs"]["strength_clip"] == 0.3
    sampler = next(n for n in two.values() if n["class_type"] == "KSampler")
    assert sampler["inputs"]["model"] == [loras["b.safetensors"][0], 0]
    assert validate(two, fixture("object_info.json"), check_model_choices=False) == []


def test_a_users_own_workflow_replaces_the_built_in_one(tmp_path):
    mine = tmp_path / "workflows"
    mine.mkdir()
    for name in ("sdxl_lora.json", "sdxl_lora.bindings.yaml"):
        (mine / name).write_text((WORKFLOWS / name).read_text().replace('"SDXL + LoRA"', '"My SDXL"'))
    templates = discover(WORKFLOWS, mine)
    assert templates["sdxl"].name == "My SDXL" and templates["sdxl"].source == "yours"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.bindings.yaml").write_text(
        "name: x\nfamily: sd15\nworkflow: x.json\nparameters:\n  prompt: {node: Nope, input: text}\n"
    )
    (broken / "x.json").write_text(json.dumps({"1": {"class_type": "SaveImage", "inputs": {}}}))
    with pytest.raises(ValueError, match="0 nodes titled 'Nope'"):
        load_template(broken / "x.bindings.yaml")


# --- replays of the recorded scenarios ------------------------------------------------------------------------


def _replay_client(fake, messages, history=None):
    fake.replay_next(messages, history)
    return ComfyClient(fake.url)


def test_replay_basic_run_and_cached_rerun(fake):
    s1 = fixture("s1_basic.json")
    graph = s1["history_1"][next(iter(s1["history_1"]))]["prompt"][2]
    events = []
    client = _replay_client(fake, s1["ws_all_after_run1"], next(iter(s1["history_1"].values())))
    outcome = client.run(graph, on_event=lambda kind, data: events.append(kind))
    assert outcome.outputs["2"]["images"][0]["filename"] == "empty_00001_.png"
    assert events[0] == "execution_start" and events[-1] == "executing" and "executed" in events
    cached = _replay_client(fake, s1["ws_run2_identical"], next(iter(s1["history_2"].values())))
    again = cached.run(graph)
    assert (
        again.cached_nodes == ["1", "2", "3"]
        and again.outputs["2"]["images"][0]["filename"] == "empty_00001_.png"
    )


def test_replay_execution_error_is_a_sentence(fake):
    s3 = fixture("s3_dummy_models.json")
    messages = [
        *s3["sd_ws"],
        {"type": "executing", "data": {"node": None, "prompt_id": s3["sd_ws"][0]["data"]["prompt_id"]}},
    ]
    graph = discover(WORKFLOWS)["sd15"].graph
    graph = fill(discover(WORKFLOWS)["sd15"], {"checkpoint": "sd15_model.safetensors"}, [])
    with pytest.raises(ComfyExecutionError) as err:
        _replay_client(fake, messages).run(graph)
    assert str(err.value) == (
        "ComfyUI failed while running CheckpointLoaderSimple: Error while deserializing "
        "header: header too small. The model file may be empty, unfinished or corrupt: "
        "download it again."
    )


def test_replay_interrupt(fake):
    s2 = fixture("s2_errors.json")
    graph = fill(discover(WORKFLOWS)["sd15"], {"checkpoint": "sd15_model.safetensors"}, [])
    with pytest.raises(ComfyInterrupted, match="ImageBlur"):
        _replay_client(fake, s2["ws_interrupted_prompt"]).run(graph)


@pytest.mark.parametrize(
    ("case", "sentence"),
    [
        (
            "ckpt_not_in_list",
            "the checkpoint `nonexistent.safetensors` is not in ComfyUI's checkpoints folder",
        ),
        ("value_below_min", "width of EmptyImage is 0, below ComfyUI's minimum"),
        ("missing_required_input", "EmptyImage is missing its `batch_size` input"),
        ("unknown_node_type", "ComfyUI has no node called `NoSuchNode`"),
        ("no_output_node", "it has no output node"),
    ],
)
def test_recorded_400_bodies_become_sentences(case, sentence):
    body = fixture("s2_errors.json")["validation"][case]["body"]
    assert sentence in describe_validation(body)
    assert "{" not in describe_validation(body)


def test_a_missing_lora_is_named_in_the_400(fake):
    graph = fill(
        discover(WORKFLOWS)["sd15"], {"checkpoint": "sd15_model.safetensors"}, [("x.safetensors", 1.0)]
    )
    with pytest.raises(
        ComfyValidationError, match=r"the LoRA `x\.safetensors` is not in ComfyUI's loras folder"
    ):
        ComfyClient(fake.url).queue_prompt(graph)


def test_binary_preview_frames_are_understood():
    meta = fixture("s5_binary_meta.json")["type4_metadata"]
    blob = json.dumps(meta).encode()
    mime, data, parsed = parse_binary(struct.pack(">II", 4, len(blob)) + blob + b"\xff\xd8\xff\xe0rest")
    assert mime == "image/jpeg" and data.startswith(b"\xff\xd8") and parsed["node_id"] == "3"
    assert parse_binary(struct.pack(">II", 1, 2) + b"\x89PNG")[0] == "image/png"
    assert parse_binary(b"\x00\x00\x00\x09abcd") is None


# --- the backend through the generation service -------------------------------------------------------------


@pytest.fixture
def comfy_ctx(tmp_path, fake):
    from isengard.context import bootstrap

    lora_dir = tmp_path / "comfy-loras"
    fake.watch_folder("loras", lora_dir)
    settings = make_settings(
        tmp_path, mode="production", env={"COMFYUI_URL": fake.url, "COMFYUI_LORA_DIR": str(lora_dir)}
    )
    ctx = bootstrap(settings, console=False)
    yield ctx
    ctx.close()


def _lora(tmp_path, family="sd15", store: Path | None = None) -> Path:
    from safetensors.torch import save_file

    from plugins.training.mock import mock_lora_tensors

    folder = store or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mine_{family}.safetensors"
    save_file(mock_lora_tensors(family, 4, 0), str(path), metadata={"isengard_family": family})
    return path


def test_generate_through_comfyui_with_a_lora_progress_and_chunks(comfy_ctx, fake, tmp_path):
    ctx = comfy_ctx
    fake.previews = True
    backend = ctx.registry.get("image", "comfyui")
    assert backend.availability().ok and "0.3.64" in backend.availability().reason
    models = {ref.id: ref.family for ref in backend.base_models()}
    assert models["comfyui:checkpoints/juggernautXL_v9.safetensors"] == "sdxl"
    assert models["comfyui:diffusion_models/flux1-dev.safetensors"] == "flux"
    lora = _lora(tmp_path, store=ctx.paths.loras / "test")
    job_id, _prepared = ctx.generation.submit(
        GenerateForm(
            prompt="a photo of zxq",
            backend="comfyui",
            base_model="comfyui:checkpoints/sd15_model.safetensors",
            width=64,
            height=64,
            steps=4,
            seed=9,
            count=2,
            scheduler="dpmpp_2m_karras",
            loras=[{"path": str(lora), "strength": 0.8}],
        )
    )
    job = ctx.runner.wait(job_id, timeout=60)
    assert job.status == "succeeded", job.error
    assert (tmp_path / "comfy-loras" / "isengard" / lora.name).exists()  # copied where ComfyUI looks
    queued = [body["prompt"] for method, path, body in fake.requests if path == "/prompt"]
    lora_node = next(n for n in queued[0].values() if n["class_type"] == "LoraLoader")
    assert (
        lora_node["inputs"]["lora_name"] == f"isengard/{lora.name}"
        and lora_node["inputs"]["strength_model"] == 0.8
    )
    sampler = next(n for n in queued[1].values() if n["class_type"] == "KSampler")
    assert (sampler["inputs"]["seed"], sampler["inputs"]["scheduler"]) == (10, "karras")
    image = job.result["images"][0]["path"]
    text = read_png_text(image)
    assert {"parameters", "isengard", "prompt", "workflow"} <= set(text)
    assert "Sampler: DPM++ 2M Karras" in text["parameters"] and "Backend: comfyui" in text["parameters"]
    assert json.loads(text["workflow"])["nodes"] and json.loads(text["prompt"])
    assert Image.open(image).size == (64, 64)
    events = ctx.runner.events(job_id, type_="progress")
    assert max(e.data.get("step", 0) for e in events) == 8
    assert any(e.data.get("preview") for e in events)


def test_flux_workflow_through_comfyui(comfy_ctx, fake, tmp_path):
    job_id, _ = comfy_ctx.generation.submit(
        GenerateForm(
            prompt="a photo",
            backend="comfyui",
            base_model="comfyui:diffusion_models/flux1-dev.safetensors",
            width=64,
            height=64,
            steps=3,
            seed=1,
            loras=[
                {"path": str(_lora(tmp_path, "flux", store=comfy_ctx.paths.loras / "test")), "strength": 1.0}
            ],
        )
    )
    job = comfy_ctx.runner.wait(job_id, timeout=60)
    assert job.status == "succeeded", job.error
    prompt = next(body["prompt"] for _, path, body in fake.requests if path == "/prompt")
    loader = next(n for n in prompt.values() if n["class_type"] == "DualCLIPLoader")
    assert loader["inputs"] == {
        "clip_name1": "clip_l.safetensors",
        "clip_name2": "t5xxl_fp16.safetensors",
        "type": "flux",
    }


NEWER = {  # family → (the server's diffusion model, text encoder, VAE), as Comfy-Org names them
    "zimage": ("z_image_turbo_bf16.safetensors", "qwen_3_4b.safetensors", "ae.safetensors"),
    "flux2_klein": ("flux-2-klein-4b.safetensors", "qwen_3_4b.safetensors", "flux2-vae.safetensors"),
    "flux2": (
        "flux2_dev_fp8mixed.safetensors",
        "mistral_3_small_flux2_fp8.safetensors",
        "flux2-vae.safetensors",
    ),
    "qwen_image": (
        "qwen_image_2512_fp8_e4m3fn.safetensors",
        "qwen_2.5_vl_7b_fp8_scaled.safetensors",
        "qwen_image_vae.safetensors",
    ),
}


def _newer_form(comfy_ctx, tmp_path, family: str, guidance: float) -> GenerateForm:
    lora = _lora(tmp_path, family, store=comfy_ctx.paths.loras / "test")
    return GenerateForm(
        prompt="a photo",
        backend="comfyui",
        base_model=f"comfyui:diffusion_models/{NEWER[family][0]}",
        width=64,
        height=64,
        steps=3,
        guidance=guidance,
        seed=1,
        loras=[{"path": str(lora), "strength": 1.0}],
    )


@pytest.mark.parametrize(
    ("family", "clip_type", "guidance", "cfg"),
    [
        ("zimage", "lumina2", 0.0, 1.0),
        ("flux2_klein", "flux2", 4.0, 4.0),
        ("qwen_image", "qwen_image", 4.0, 4.0),
    ],
)
def test_newer_family_workflows_through_comfyui(comfy_ctx, fake, tmp_path, family, clip_type, guidance, cfg):
    fake.version = "0.9.2"  # new enough for every family (FLUX.2 [klein] needs 0.9.2)
    fake.with_flux2()
    unet, encoder, vae = NEWER[family]
    for folder, name in (("diffusion_models", unet), ("text_encoders", encoder), ("vae", vae)):
        fake.add_model(folder, name)
    comfy_ctx.registry.get("image", "comfyui")._cache.clear()
    job_id, _ = comfy_ctx.generation.submit(_newer_form(comfy_ctx, tmp_path, family, guidance))
    job = comfy_ctx.runner.wait(job_id, timeout=60)
    assert job.status == "succeeded", job.error
    prompt = next(body["prompt"] for _, path, body in fake.requests if path == "/prompt")
    loader = next(n for n in prompt.values() if n["class_type"] == "CLIPLoader")
    assert loader["inputs"] == {"clip_name": encoder, "type": clip_type}
    assert next(n for n in prompt.values() if n["class_type"] == "VAELoader")["inputs"]["vae_name"] == vae
    lora = next(n for n in prompt.values() if n["class_type"] == "LoraLoaderModelOnly")
    assert lora["inputs"]["lora_name"].endswith(f"mine_{family}.safetensors")
    if family == "flux2":  # guidance distilled into the model
        assert (
            next(n for n in prompt.values() if n["class_type"] == "FluxGuidance")["inputs"]["guidance"] == cfg
        )
        return
    sampler = next(n for n in prompt.values() if n["class_type"] in ("KSampler", "CFGGuider"))
    assert sampler["inputs"]["cfg"] == cfg  # Z-Image's 0 (off) is ComfyUI's CFG 1


@pytest.mark.parametrize(
    ("family", "needs"), [("zimage", "0.3.76"), ("flux2_klein", "0.9.2"), ("flux2", "0.3.72")]
)
def test_a_server_too_old_for_a_family_says_so_before_queueing(comfy_ctx, fake, tmp_path, family, needs):
    """The recorded 0.3.64 has no FLUX.2 nodes and cannot load Z-Image: one sentence, nothing queued."""
    unet, encoder, vae = NEWER[family]
    for folder, name in (("diffusion_models", unet), ("text_encoders", encoder), ("vae", vae)):
        fake.add_model(folder, name)
    job_id, _ = comfy_ctx.generation.submit(_newer_form(comfy_ctx, tmp_path, family, 1.0))
    job = comfy_ctx.runner.wait(job_id, timeout=60)
    assert job.status == "failed"
    assert job.error.startswith("This ComfyUI (0.3.64) is too old for ")
    assert f"it needs ComfyUI {needs} or newer" in job.error
    assert not any(path == "/prompt" for _, path, _ in fake.requests)


def test_a_server_with_flux2_dev_but_before_klein_is_refused_for_klein(comfy_ctx, fake, tmp_path):
    """0.3.72 ≤ version < 0.9.2 passed the old check (FLUX.2 support) and failed mid-graph on klein's
    text encoder: now it is refused before anything is queued."""
    fake.version = "0.5.1"
    unet, encoder, vae = NEWER["flux2_klein"]
    for folder, name in (("diffusion_models", unet), ("text_encoders", encoder), ("vae", vae)):
        fake.add_model(folder, name)
    job = comfy_ctx.runner.wait(
        comfy_ctx.generation.submit(_newer_form(comfy_ctx, tmp_path, "flux2_klein", 1.0))[0], 60
    )
    assert job.status == "failed" and "This ComfyUI (0.5.1) is too old" in job.error
    assert "it needs ComfyUI 0.9.2 or newer" in job.error
    assert not any(path == "/prompt" for _, path, _ in fake.requests)


def test_errors_are_clear_and_lose_no_other_work(comfy_ctx, fake, tmp_path):
    ctx = comfy_ctx
    job = ctx.runner.wait(
        ctx.generation.submit(
            GenerateForm(
                prompt="x",
                backend="comfyui",
                base_model="comfyui:checkpoints/dummy_model.safetensors",
                width=64,
                height=64,
                steps=2,
            )
        )[0],
        timeout=60,
    )
    assert job.status == "failed" and "The model file may be empty" in job.error
    fine = ctx.runner.wait(
        ctx.generation.submit(
            GenerateForm(
                prompt="x",
                backend="comfyui",
                base_model="comfyui:checkpoints/sd15_model.safetensors",
                width=64,
                height=64,
                steps=2,
            )
        )[0],
        timeout=60,
    )
    assert fine.status == "succeeded"


def test_a_lora_comfyui_cannot_see_is_explained(fake, tmp_path):
    backend = ComfyUIBackend(
        PluginSettings(
            mode="production",
            comfyui_url=fake.url,
            tmp_dir=tmp_path,
            workflows_dir=WORKFLOWS,
            data_dir=tmp_path,
        )
    )
    with pytest.raises(PluginError) as err:
        backend.lora_name(_lora(tmp_path), SimpleRunContext())
    assert "Set COMFYUI_LORA_DIR" in str(err.value)
    fake.add_model("loras", f"isengard-shared/{_lora(tmp_path).name}")  # extra_model_paths.yaml case
    assert backend.lora_name(_lora(tmp_path), SimpleRunContext()) == f"isengard-shared/{_lora(tmp_path).name}"


def test_server_down_and_too_old(fake, tmp_path):
    down = ComfyUIBackend(PluginSettings(comfyui_url="http://127.0.0.1:9", workflows_dir=WORKFLOWS))
    assert not down.availability().ok and "Cannot reach ComfyUI" in down.availability().reason
    assert ComfyUIBackend(PluginSettings()).availability().reason.startswith("COMFYUI_URL is not set")
    fake.version = "0.2.9"
    old = ComfyUIBackend(PluginSettings(comfyui_url=fake.url, workflows_dir=WORKFLOWS))
    assert "too old" in old.availability().reason
    with pytest.raises(ComfyUnreachable):
        ComfyClient("http://127.0.0.1:9", timeout=1).system_stats()


def test_socket_drop_mid_run_recovers_from_history(fake):
    fake.drop_socket_at_step = 2
    graph = fill(
        discover(WORKFLOWS)["sd15"],
        {"checkpoint": "sd15_model.safetensors", "steps": 6, "width": 64, "height": 64},
        [],
    )
    outcome = ComfyClient(fake.url).run(graph)
    assert outcome.outputs and outcome.recovered_from_history


def test_cancel_mid_run_interrupts_and_cancel_while_queued_deletes(comfy_ctx, fake):
    ctx = comfy_ctx
    fake.step_seconds = 0.2
    form = {
        "prompt": "x",
        "backend": "comfyui",
        "base_model": "comfyui:checkpoints/sd15_model.safetensors",
        "width": 64,
        "height": 64,
        "steps": 50,
    }
    job_id, _ = ctx.generation.submit(GenerateForm(**form))
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 1, timeout=30)
    ctx.runner.cancel(job_id)
    assert ctx.runner.wait(job_id, timeout=30).status == "cancelled"
    assert any(path == "/interrupt" for _, path, _ in fake.requests)

    blocker = threading.Event()
    fake.queue_items.append(
        {
            "prompt_id": "someone-else",
            "number": 99,
            "prompt": {},
            "outputs": [],
            "client_id": "other",
            "extra": {},
        }
    )  # another user's job holds the queue
    original = fake._execute
    fake._execute = lambda item: blocker.wait(10) if item["prompt_id"] == "someone-else" else original(item)
    client = ComfyClient(fake.url)
    graph = fill(discover(WORKFLOWS)["sd15"], {"checkpoint": "sd15_model.safetensors", "steps": 2}, [])
    cancel_now = threading.Event()
    threading.Timer(0.5, cancel_now.set).start()
    with pytest.raises(ComfyInterrupted, match="before ComfyUI started it"):
        client.run(graph, should_cancel=cancel_now.is_set)
    assert any(path == "/queue" and "delete" in body for _, path, body in fake.requests)
    blocker.set()
