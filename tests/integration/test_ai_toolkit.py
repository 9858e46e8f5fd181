"""The ai-toolkit adapter: configs checked against the documented schema, its output parsed as recorded,
and the whole flow (progress, samples, cancel, resume, failure, missing checkout) through the real adapter
driving a stand-in run.py that behaves as the captures show."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from plugins.base import ModelRef, PluginSettings
from plugins.training.ai_toolkit import AIToolkitTrainer
from plugins.training.ai_toolkit.config import build_config, unknown_keys
from plugins.training.ai_toolkit.process import OutputParser, read_losses
from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest
from tests.helpers import child_env, install_tiny, make_settings, run_cli, solid_photos, wait_for

CAPTURES = Path(__file__).parent.parent / "fixtures" / "ai_toolkit"
STANDIN = Path(__file__).parent.parent / "fixtures" / "ai_toolkit_standin"


def _request(tmp_path, family="flux", **params) -> TrainingRequest:
    photos = solid_photos(tmp_path / "photos")
    base = tmp_path / "base"
    base.mkdir(exist_ok=True)
    return TrainingRequest(
        job_id="job-1",
        name="alice_flux",
        trigger_word="alcszx",
        dataset=[DatasetItem(p, f"a photo of alcszx, a woman {i}") for i, p in enumerate(photos)],
        base=ModelRef(id=f"tiny-{family}", family=family, source=f"tiny:{family}", local_path=base),
        params=TrainingParams(
            **(
                {
                    "steps": 40,
                    "rank": 8,
                    "alpha": 8,
                    "resolution": 1024,
                    "save_every": 10,
                    "sample_every": 20,
                    "quantize_base": True,
                }
                | params
            )
        ),
        output_dir=tmp_path / "run",
        sample_prompts=["a photo of alcszx, a woman"],
    )


# --- configs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["flux", "sdxl", "sd15", "flux2_klein", "flux2", "zimage", "qwen_image"])
@pytest.mark.parametrize("cuda", [True, False])
def test_generated_configs_use_only_documented_keys(tmp_path, family, cuda):
    request = _request(tmp_path, family)
    config = build_config(request, dataset_dir=tmp_path / "ds", training_folder=tmp_path / "out", cuda=cuda)
    assert unknown_keys(config) == []
    process = config["config"]["process"][0]
    assert process["type"] == "sd_trainer" and process["trigger_word"] == "alcszx"
    assert "device" not in process  # ai-toolkit never reads it (accelerate picks the device)
    assert process["network"] == {"type": "lora", "linear": 8, "linear_alpha": 8}
    assert process["logging"] == {"log_every": 1, "use_ui_logger": True}
    assert process["sample"]["prompts"] == ["a photo of [trigger], a woman"]
    assert process["save"]["save_every"] == 10 and process["save"]["max_step_saves_to_keep"] == 4
    assert process["datasets"][0]["resolution"] == [640, 768, 1024]
    assert ("num_workers" in process["datasets"][0]) is (not cuda)
    assert process["model"]["quantize"] is cuda  # 4-bit base only on an NVIDIA GPU
    if family == "flux":
        assert process["train"]["noise_scheduler"] == "flowmatch" and process["model"]["is_flux"] is True
    elif family in ("sdxl", "sd15"):
        arch = {"sdxl": "sdxl", "sd15": "sd1"}[family]
        assert process["train"]["noise_scheduler"] == "ddpm" and process["model"]["arch"] == arch
        assert process["sample"]["sampler"] == "ddpm"
    else:  # the arch names ai-toolkit registers for the newer families
        arch = {
            "flux2_klein": "flux2_klein_4b",
            "flux2": "flux2",
            "zimage": "zimage",
            "qwen_image": "qwen_image",
        }
        assert process["model"]["arch"] == arch[family] and "is_flux" not in process["model"]
        assert (
            process["train"]["noise_scheduler"] == "flowmatch" and process["sample"]["sampler"] == "flowmatch"
        )
        assert process["train"]["timestep_type"] == "weighted" and process["model"]["quantize_te"] is cuda


def test_turbo_config_names_its_training_adapter_and_samples_without_cfg(tmp_path):
    from dataclasses import replace

    request = _request(tmp_path, "zimage")
    adapter = tmp_path / "training_adapter.safetensors"
    request = replace(request, base=replace(request.base, training_adapter=adapter))
    process = build_config(request, dataset_dir=tmp_path / "ds", training_folder=tmp_path / "out", cuda=True)[
        "config"
    ]["process"][0]
    assert process["model"]["assistant_lora_path"] == str(adapter)
    assert process["model"]["qtype"] == "float8"  # what ai-toolkit switches to with an assistant adapter
    assert process["sample"]["guidance_scale"] == 1
    plain = build_config(
        _request(tmp_path, "zimage"), dataset_dir=tmp_path, training_folder=tmp_path, cuda=True
    )
    assert "assistant_lora_path" not in plain["config"]["process"][0]["model"]


def test_flux2_trains_from_the_hub_repo_ai_toolkit_reads_its_single_files_from(tmp_path):
    from dataclasses import replace

    request = _request(tmp_path, "flux2_klein")
    hub = replace(request.base, source="black-forest-labs/FLUX.2-klein-base-4B")
    config = build_config(
        replace(request, base=hub), dataset_dir=tmp_path, training_folder=tmp_path, cuda=True
    )
    assert config["config"]["process"][0]["model"]["name_or_path"] == "black-forest-labs/FLUX.2-klein-base-4B"
    tiny = build_config(request, dataset_dir=tmp_path, training_folder=tmp_path, cuda=True)
    assert tiny["config"]["process"][0]["model"]["name_or_path"] == str(request.base.local_path)


def test_unknown_keys_are_caught_before_launch(tmp_path):
    config = yaml.safe_load((CAPTURES / "job.yaml").read_text())
    # the recorded, working job: only `device`, which ai-toolkit's trainer never reads
    assert unknown_keys(config) == ["config.process[0].device"]
    del config["config"]["process"][0]["device"]
    config["config"]["process"][0]["train"]["stpes"] = 10
    config["config"]["process"][0]["model"]["quantise"] = True
    assert unknown_keys(config) == ["config.process[0].train.stpes", "config.process[0].model.quantise"]


# --- parsing what ai-toolkit prints ----------------------------------------------------------------------


def _feed(parser: OutputParser, name: str) -> None:
    for line in (CAPTURES / f"{name}.stdout.log").read_text().splitlines():
        parser.feed_stdout(line)
    for segment in (CAPTURES / f"{name}.stderr.log").read_text().replace("\r", "\n").split("\n"):
        parser.feed_stderr(segment)


def test_recorded_run_output_is_understood():
    parser = OutputParser("tiny_flux_lora")
    _feed(parser, "run")
    state = parser.state
    assert (state.step, state.total) == (20, 20) and state.loss is not None and state.lr == 1e-4
    assert state.checkpoints[-1].endswith("tiny_flux_lora.safetensors") and not state.error
    assert "Generating baseline samples before training" in state.messages


def test_recorded_stop_and_resume_are_understood():
    stopped = OutputParser("tiny_flux_sigint")
    _feed(stopped, "sigint")
    assert stopped.state.stopped and stopped.state.step is not None and stopped.state.step < 120
    resumed = OutputParser("tiny_flux_sigint")
    _feed(resumed, "resume")
    assert resumed.state.resumed_from == 30 and resumed.state.step == 120


def test_recorded_loss_log_db_is_read():
    rows = read_losses(CAPTURES / "loss_log.db")
    assert [s for s, _ in rows] == list(range(1, 20)) and rows[0][1] == pytest.approx(3.4943, abs=1e-3)
    assert read_losses(CAPTURES / "loss_log.db", after_step=18) == rows[-1:]
    assert read_losses(CAPTURES / "missing.db") == []


# --- discovery ------------------------------------------------------------------------------------------------


def test_missing_or_broken_checkouts_say_why(tmp_path):
    assert "AI_TOOLKIT_DIR is not set" in AIToolkitTrainer(PluginSettings()).availability().reason
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no run.py" in AIToolkitTrainer(PluginSettings(ai_toolkit_dir=empty)).availability().reason
    no_python = tmp_path / "checkout"
    no_python.mkdir()
    (no_python / "run.py").write_text("")
    assert (
        "no Python for ai-toolkit"
        in AIToolkitTrainer(PluginSettings(ai_toolkit_dir=no_python)).availability().reason
    )
    (no_python / "venv" / "bin").mkdir(parents=True)
    (no_python / "venv" / "bin" / "python").symlink_to(sys.executable)
    ok = AIToolkitTrainer(PluginSettings(ai_toolkit_dir=no_python)).availability()
    assert ok.ok and "unknown version" in ok.reason
    assert (
        "0.12.26"
        in AIToolkitTrainer(
            PluginSettings(ai_toolkit_dir=STANDIN, ai_toolkit_python=Path(sys.executable))
        ).toolkit_version()
    )


def test_dataset_export_uses_the_trigger_placeholder(tmp_path):
    request = _request(tmp_path)
    trainer = AIToolkitTrainer(PluginSettings())
    folder = trainer.export_dataset(request, tmp_path / "ds")
    captions = sorted(p.read_text().strip() for p in folder.glob("*.txt"))
    assert captions[0] == "a photo of [trigger], a woman 0" and len(list(folder.glob("*.png"))) == 4
    request.dataset = request.dataset[:2]
    trainer.export_dataset(request, folder)
    assert len(list(folder.glob("*.png"))) == 2  # photos removed since are removed from the export


# --- the whole flow through the training service -------------------------------------------------------


@pytest.fixture
def aitk_ctx(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(
        tmp_path,
        mode="production",
        env={
            "AI_TOOLKIT_DIR": str(STANDIN),
            "AI_TOOLKIT_PYTHON": sys.executable,
            "HF_TOKEN": "hf_StandInSecret123456",
        },
    )
    install_tiny(settings.data_dir, "flux", tiny_models)
    ctx = bootstrap(settings, console=False)
    character = ctx.characters.create("Aitk Person")
    ctx.characters.add_photos(character.id, [(p, p.name) for p in solid_photos(tmp_path / "red")])
    yield ctx
    ctx.close()


def test_training_through_ai_toolkit_lands_in_the_store(aitk_ctx):
    ctx = aitk_ctx
    job_id = ctx.training.submit(
        "Aitk Person",
        base_model="tiny-flux",
        backend="ai-toolkit",
        preset="tiny-cpu",
        overrides={"steps": 30, "save_every": 10, "sample_every": 10},
    )
    job = ctx.runner.wait(job_id, timeout=120)
    assert job.status == "succeeded", job.error
    from plugins.lora_format import read_lora_info

    info = read_lora_info(job.result["lora_path"])
    assert info.family == "flux" and info.trigger_word == "atkpzx" and "training_info" in info.metadata
    assert "ai-toolkit 0.12.26" in job.result["backend_version"]
    losses = ctx.training.loss_curve(job_id)
    assert [s for s, _ in losses] == list(range(1, 31))
    # the baseline and every 10 steps, the five probe framings each
    assert len(ctx.training.samples(job_id)) == 20
    # ai-toolkit was given the probe prompts and its samples were scored (the stand-in draws no face)
    rows = ctx.runner.db.query("SELECT step, idx FROM probe_scores WHERE job_id=?", (job_id,))
    assert sorted({r["step"] for r in rows}) == [0, 10, 20, 30]
    assert job.result["recommendation"]["reason"].startswith("No face was found in any probe picture")
    kinds = sorted(r.kind for r in ctx.loras.for_character(1, kinds=("final", "checkpoint")))
    assert kinds == ["checkpoint", "checkpoint", "final"]
    logs = ctx.paths.subprocess_logs
    stdout = (logs / f"train-{job_id}.stdout.log").read_text()
    assert "HF_TOKEN is set in the environment" in stdout
    everything = "".join(
        p.read_text(errors="replace")
        for p in [*logs.rglob("*.log"), *ctx.paths.training_runs.rglob("*.yaml")]
    )
    assert "hf_StandInSecret123456" not in everything  # passed in the environment, never written
    assert b"\r" in (logs / f"train-{job_id}.stderr.log").read_bytes()  # the raw tqdm stream is kept


def test_cancel_keeps_checkpoints_and_resume_finishes(aitk_ctx):
    ctx = aitk_ctx
    job_id = ctx.training.submit(
        "Aitk Person",
        base_model="tiny-flux",
        backend="ai-toolkit",
        preset="tiny-cpu",
        overrides={"steps": 200, "save_every": 10, "sample_every": 0},
    )
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 25, timeout=60, interval=0.05)
    ctx.runner.cancel(job_id)
    job = ctx.runner.wait(job_id, timeout=60)
    run = ctx.paths.training_run_dir(job_id) / "output"
    kept = sorted(run.rglob("*_0*.safetensors"))
    assert kept and not list(run.rglob(f"{job.params['name']}.safetensors"))
    checkpoint_step = int(kept[-1].stem.rsplit("_", 1)[1])
    assert job.status == "cancelled"
    assert f"The checkpoint from step {checkpoint_step} is kept: Resume continues from it." in job.error
    assert "SIG" not in job.error  # how it was stopped is in the log, not in the sentence
    stopped_events = len(ctx.runner.events(job_id, type_="progress"))
    ctx.runner.resume(job_id)
    done = ctx.runner.wait(job_id, timeout=120)
    assert done.status == "succeeded", done.error
    events = ctx.runner.events(job_id, type_="progress")[stopped_events:]
    said = [
        i
        for i, e in enumerate(events)
        if e.data.get("message") == f"ai-toolkit resumed from step {checkpoint_step}"
    ]
    assert said, [e.data.get("message") for e in events]
    # nothing from the stopped attempt is replayed: the steps after the resume are 51, 52, … with losses
    trained = [e.data["step"] for e in events if "loss" in e.data]
    assert trained == list(range(checkpoint_step + 1, 201))
    assert all(i > said[0] for i, e in enumerate(events) if "loss" in e.data)
    assert [s for s, _ in ctx.training.loss_curve(job_id)] == list(range(1, 201))
    from plugins.lora_format import read_lora_info

    info = read_lora_info(done.result["lora_path"])
    assert float(info.metadata["isengard_training_seconds"]) > 1.0  # both attempts, not 0.0
    # stored once: the final LoRA left the run folder for the store, and no extra copy was made
    lora_files = [*ctx.paths.loras.rglob("*.safetensors"), *ctx.paths.training_runs.rglob("*.safetensors")]
    finals = [p for p in lora_files if not re.search(r"_\d{9}$", p.stem)]  # not NAME_<step:09d>
    assert finals == [Path(done.result["lora_path"])], finals


def test_cancel_before_the_first_checkpoint_says_resume_starts_over(aitk_ctx):
    ctx = aitk_ctx
    job_id = ctx.training.submit(
        "Aitk Person",
        base_model="tiny-flux",
        backend="ai-toolkit",
        preset="tiny-cpu",
        overrides={"steps": 60, "save_every": 50, "sample_every": 0},
    )
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 5, timeout=60, interval=0.05)
    ctx.runner.cancel(job_id)
    job = ctx.runner.wait(job_id, timeout=60)
    assert job.status == "cancelled"
    assert "before the first checkpoint (step 50), so nothing was kept" in job.error
    assert "Resume starts over from the beginning" in job.error
    stopped_events = len(ctx.runner.events(job_id, type_="progress"))
    ctx.runner.resume(job_id)
    done = ctx.runner.wait(job_id, timeout=120)
    assert done.status == "succeeded", done.error
    events = ctx.runner.events(job_id, type_="progress")[stopped_events:]
    assert not any("resumed from" in (e.data.get("message") or "") for e in events)
    assert [e.data["step"] for e in events if "loss" in e.data] == list(range(1, 61))
    assert [s for s, _ in ctx.training.loss_curve(job_id)] == list(range(1, 61))


def test_ai_toolkit_trains_sd15(aitk_ctx, tiny_models):
    ctx = aitk_ctx
    install_tiny(ctx.paths.data, "sd15", tiny_models)
    job = ctx.runner.wait(
        ctx.training.submit(
            "Aitk Person",
            base_model="tiny-sd15",
            backend="ai-toolkit",
            preset="tiny-cpu",
            overrides={"steps": 12, "save_every": 5, "sample_every": 0},
        ),
        timeout=120,
    )
    assert job.status == "succeeded", job.error
    from plugins.lora_format import read_lora_info

    assert read_lora_info(job.result["lora_path"]).family == "sd15"
    config = yaml.safe_load(next(ctx.paths.training_runs.rglob("job.yaml")).read_text())
    assert config["config"]["process"][0]["model"]["arch"] == "sd1"


@pytest.mark.parametrize(
    ("family", "model_id", "arch"),
    [
        ("zimage", "tiny-zimage-turbo", "zimage"),
        ("flux2_klein", "tiny-flux2-klein", "flux2_klein_4b"),
        ("flux2", "tiny-flux2", "flux2"),
        ("qwen_image", "tiny-qwen-image", "qwen_image"),
    ],
)
def test_ai_toolkit_lora_of_a_newer_family_generates_in_the_built_in_backend(
    aitk_ctx, tiny_models, family, model_id, arch
):
    """ai-toolkit's `diffusion_model.…` keys (BFL names for FLUX.2) load in diffusers and reach the model."""
    from isengard.generation.service import GenerateForm
    from plugins.image.diffusers_backend import DiffusersImageBackend
    from plugins.lora_format import read_lora_info

    ctx = aitk_ctx
    install_tiny(ctx.paths.data, family, tiny_models)
    job = ctx.runner.wait(
        ctx.training.submit(
            "Aitk Person",
            base_model=model_id,
            backend="ai-toolkit",
            preset="tiny-cpu",
            overrides={"steps": 6, "save_every": 3, "sample_every": 0},
        ),
        timeout=120,
    )
    assert job.status == "succeeded", job.error
    info = read_lora_info(job.result["lora_path"])
    assert info.family == family
    config = yaml.safe_load(next(ctx.paths.training_runs.rglob("job.yaml")).read_text())
    model = config["config"]["process"][0]["model"]
    assert model["arch"] == arch
    assert ("assistant_lora_path" in model) is (model_id == "tiny-zimage-turbo")
    form = GenerateForm(
        prompt="a photo of atkpzx",
        base_model=model_id,
        backend="diffusers",
        loras=[{"path": job.result["lora_path"], "strength": 1.0}],
        steps=2,
    )
    gen_id, _ = ctx.generation.submit(form)
    done = ctx.runner.wait(gen_id, timeout=120)
    assert done.status == "succeeded", done.error
    backend = ctx.registry.get("image", "diffusers")
    assert isinstance(backend, DiffusersImageBackend) and backend.stats["lora_loads"] == 1


def test_failure_shows_the_last_output(aitk_ctx, tmp_path):
    ctx = aitk_ctx
    import shutil

    shutil.rmtree(ctx.paths.base_models / "tiny-flux")
    (ctx.paths.base_models / "tiny-flux").mkdir()
    ctx.models.resolve = lambda model, progress=None, **_: model.ref(tmp_path / "does-not-exist")
    job = ctx.runner.wait(
        ctx.training.submit(
            "Aitk Person",
            base_model="tiny-flux",
            backend="ai-toolkit",
            preset="tiny-cpu",
            overrides={"steps": 5},
        ),
        timeout=60,
    )
    assert job.status == "failed"
    assert "ai-toolkit failed: Model not found" in job.error and "Last output:" in job.error


def test_an_out_of_memory_in_ai_toolkit_steps_down_and_resumes(aitk_ctx, tmp_path, monkeypatch):
    """The stand-in runs out of GPU memory at step 12 (worded as torch's OutOfMemoryError), once: the studio
    turns on gradient checkpointing and ai-toolkit resumes from its step-10 checkpoint to the end."""
    ctx = aitk_ctx
    monkeypatch.setenv("STANDIN_OOM_AT_STEP", "12")
    monkeypatch.setenv("STANDIN_OOM_MARKER", str(tmp_path / "ran-out-once"))
    job = ctx.runner.wait(
        ctx.training.submit(
            "Aitk Person",
            base_model="tiny-flux",
            backend="ai-toolkit",
            preset="tiny-cpu",
            overrides={"steps": 20, "save_every": 10, "sample_every": 0, "gradient_checkpointing": False},
        ),
        timeout=120,
    )
    assert job.status == "succeeded", job.error
    said = [e.data["message"] for e in ctx.runner.events(job.id, type_="progress") if e.data.get("message")]
    assert "Out of GPU memory — continuing with gradient checkpointing from step 10" in said
    assert job.params["params"]["gradient_checkpointing"] is True
    assert (tmp_path / "ran-out-once").exists()


def test_cancel_works_even_when_the_studio_ignores_sigint(tmp_path):
    """A studio started in the background inherits SIGINT as ignored; ai-toolkit must still stop on it."""
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(f"""
        import signal, sys, threading, json
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.path.insert(0, {str(Path(__file__).parent.parent.parent)!r})
        from pathlib import Path
        from plugins.base import Cancelled, PluginSettings, SimpleRunContext
        from plugins.training.ai_toolkit import AIToolkitTrainer
        from tests.integration.test_ai_toolkit import _request
        request = _request(Path({str(tmp_path)!r}), steps=400, save_every=10, sample_every=0, quantize_base=False)
        ctx = SimpleRunContext()
        trainer = AIToolkitTrainer(PluginSettings(mode="production", ai_toolkit_dir=Path({str(STANDIN)!r}),
                                                  ai_toolkit_python=Path(sys.executable),
                                                  subprocess_log_dir=Path({str(tmp_path)!r}) / "logs"),
                                   stop_grace=15.0)
        def cancel_later():
            while not any(e.get("checkpoint") for e in ctx.events):
                threading.Event().wait(0.05)
            ctx.cancel()
        threading.Thread(target=cancel_later, daemon=True).start()
        try:
            trainer.run(request, ctx)
            print(json.dumps({{"outcome": "finished"}}))
        except Cancelled as exc:
            how = [c.get("signal") for e, _, c in ctx.logs if e == "aitoolkit.stopped"]
            print(json.dumps({{"outcome": "cancelled", "message": str(exc), "signal": how}}))
    """)
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=child_env(tmp_path)
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["outcome"] == "cancelled" and outcome["signal"] == ["SIGINT"], result.stderr[-2000:]
    assert "is kept: Resume continues from it" in outcome["message"]


def test_cli_trains_with_ai_toolkit(tmp_path, tiny_models):
    env = child_env(
        tmp_path, ISENGARD_MODE="production", AI_TOOLKIT_DIR=str(STANDIN), AI_TOOLKIT_PYTHON=sys.executable
    )
    install_tiny(tmp_path / "data", "flux", tiny_models)
    files = [str(p) for p in solid_photos(tmp_path / "red")]
    assert run_cli(["character", "create", "Cli Aitk", "--no-check", "--photos", *files], env).returncode == 0
    result = run_cli(
        [
            "train",
            "Cli Aitk",
            "--base",
            "tiny-flux",
            "--backend",
            "ai-toolkit",
            "--preset",
            "tiny-cpu",
            "--steps",
            "12",
            "--json",
        ],
        env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["lora_path"].endswith(".safetensors")


def test_a_lora_diffusers_cannot_map_is_refused_not_applied_as_nothing(tmp_path, tiny_models):
    """diffusers only logs a warning for keys it cannot map (ai-toolkit's Chroma files); the studio says so."""
    import torch
    from safetensors.torch import save_file

    from plugins.base import PluginError, SimpleRunContext
    from plugins.image.diffusers_backend import DiffusersImageBackend
    from plugins.image.interface import ImageRequest, LoraRef

    base = install_tiny(tmp_path, "zimage", tiny_models)
    odd = tmp_path / "odd.safetensors"  # BFL-style names a Z-Image transformer does not have
    save_file(
        {
            "diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": torch.zeros(4, 32),
            "diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight": torch.zeros(96, 4),
        },
        str(odd),
    )
    request = ImageRequest(
        prompt="a photo",
        base=ModelRef(id="tiny-zimage-turbo", family="zimage", source="tiny:zimage", local_path=base),
        loras=[LoraRef(path=odd, strength=1.0)],
        width=64,
        height=64,
        steps=2,
        guidance=0.0,
    )
    backend = DiffusersImageBackend(PluginSettings(mode="production"))
    with pytest.raises(PluginError, match=r"odd\.safetensors (has no layers|does not fit)"):
        backend.run(request, SimpleRunContext())
