"""Stop when it is done: a training ends itself at its best, through the real job runner and training
service — with the scripted likeness doubles (`tests/likeness_double.py`) on the mock trainer for each kind
of curve (improving, plateau, copying, too few faces) and on the built-in trainer with the tiny FLUX model
(plateau, and a run stopped by the person and resumed)."""

from __future__ import annotations

import pytest
from safetensors import safe_open

from isengard.evaluation.early_stop import decide
from isengard.evaluation.likeness import ProbeScore, summarise
from tests.helpers import install_tiny, make_settings, wait_for
from tests.likeness_double import RISING, ScriptedTrainer, character_photos, honest, use_scripted_faces


def rounds_of(scores_by_step: dict[int, int], faces: int = 5) -> dict[int, list]:
    """Each step's round: `faces` probes around the score (honest variety), the rest without a face."""
    return {
        step: honest(*[score + (i % 3) - 1 for i in range(faces)], *([None] * (5 - faces)))
        for step, score in scores_by_step.items()
    }


PLATEAU = rounds_of({2: 60, 4: 72, 6: 72, 8: 71, 10: 72, 12: 71})


# the rule alone ----------------------------------------------------------------------------------------
def _round(step, score, faces=5, copies=None):
    probes = [ProbeScore("p", True, score, copies_photo=copies)] * faces + [ProbeScore("p", False)] * (
        5 - faces
    )
    return summarise(step, probes, collapsed=False)


def test_the_rule_stops_on_a_plateau_on_copying_and_never_without_faces():
    rising = [_round(s, 40 + s) for s in (5, 10, 15, 20)]
    assert decide(rising, patience=2) is None
    plateau = [_round(5, 60), _round(10, 75), _round(15, 75.5), _round(20, 74)]  # +0.5 is noise, not progress
    stop = decide(plateau, patience=2)
    assert (stop.best_step, stop.at_step, stop.why) == (10, 20, "likeness stopped improving after step 10")
    assert decide(plateau[:3], patience=2) is None  # one round without progress is not yet a plateau
    copying = [_round(5, 60), _round(10, 75), _round(15, 93, copies=0)]
    stop = decide(copying, patience=3)
    assert (stop.best_step, stop.why) == (10, "step 15 starts copying photo #1")
    few = [_round(s, 70, faces=2) for s in (5, 10, 15, 20, 25)]
    assert decide(few, patience=1) is None  # nothing can be judged, so nothing is stopped
    assert (
        decide([_round(5, 90, copies=0), _round(10, 91, copies=0)], patience=1) is None
    )  # nothing clean to keep
    assert stop.sentence(1250, 2000) == (
        "Stopped at step 1,250 of 2,000: step 15 starts copying photo #1 — saved 38% of the time. "
        "The LoRA is the checkpoint from step 10."
    )


# through the service with the mock trainer -------------------------------------------------------------
@pytest.fixture
def ctx(tmp_path, monkeypatch):
    from isengard.context import bootstrap

    context = bootstrap(make_settings(tmp_path), console=False)
    use_scripted_faces(context.registry, monkeypatch)
    context.characters.create("Ada")
    context.characters.add_photos("Ada", [(p, p.name) for p in character_photos(tmp_path / "ada")])
    yield context
    context.close()


def _train(ctx, rounds, **overrides):
    ctx.registry.register(ScriptedTrainer(rounds))
    settings = {"steps": 30, "save_every": 5, "sample_every": 5, "max_checkpoints": 8, "stop_patience": 2}
    job = ctx.runner.wait(
        ctx.training.submit(
            "Ada", base_model="flux-dev", backend="scripted-likeness", overrides=settings | overrides
        ),
        timeout=120,
    )
    assert job.status == "succeeded", job.error
    return job


def test_an_improving_run_goes_to_the_end(ctx):
    job = _train(ctx, rounds_of({5: 40, 10: 50, 15: 60, 20: 66, 25: 72, 30: 78}))
    assert job.result["early_stop"] is None and job.result["steps"] == 30
    assert job.result["recommendation"]["step"] == 30


def test_copying_stops_the_run_and_keeps_the_step_before(ctx):
    job = _train(ctx, {**RISING, 25: honest(80, 80, 80, 80, 80), 30: honest(80, 80, 80, 80, 80)})
    early = job.result["early_stop"]
    assert (early["stopped_at"], early["best_step"], early["why"]) == (
        20,
        15,
        "step 20 starts copying photo #1",
    )
    assert job.result["steps"] == 15 and job.result["recommendation"]["step"] == 15
    steps = [e.data.get("step") for e in ctx.runner.events(job.id, type_="progress")]
    assert max(s for s in steps if isinstance(s, int)) <= 21  # nothing trained past the decision but one step
    assert ctx.loras.get(job.result["lora_id"]).metadata["early_stop"].startswith("Stopped at step 20 of 30")


def test_too_few_faces_never_stops_and_says_why_nothing_is_recommended(ctx):
    job = _train(ctx, rounds_of({s: 70 for s in (5, 10, 15, 20, 25, 30)}, faces=2))
    assert job.result["early_stop"] is None and job.result["steps"] == 30
    assert job.result["recommendation"]["step"] is None
    assert "Too few probe pictures show a face" in job.result["recommendation"]["reason"]


def test_switched_off_a_plateau_trains_to_the_end(ctx):
    job = _train(ctx, rounds_of({5: 60, 10: 72, 15: 72, 20: 71, 25: 72, 30: 71}), stop_when_done=False)
    assert job.result["early_stop"] is None and job.result["steps"] == 30


# through the built-in trainer --------------------------------------------------------------------------
@pytest.fixture
def prod(tmp_path, tiny_models, monkeypatch):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    install_tiny(settings.data_dir, "flux", tiny_models)
    context = bootstrap(settings, console=False)
    use_scripted_faces(context.registry, monkeypatch, rounds=PLATEAU)
    context.characters.create("Ada")
    context.characters.add_photos("Ada", [(p, p.name) for p in character_photos(tmp_path / "ada")])
    yield context
    context.close()


TINY = {"steps": 12, "save_every": 2, "sample_every": 2, "sample_steps": 1, "stop_patience": 2}


def _check_stopped_at_its_best(ctx, job):
    assert job.status == "succeeded", job.error
    early = job.result["early_stop"]
    assert (early["stopped_at"], early["best_step"], early["total"]) == (8, 4, 12)
    assert early["sentence"] == (
        "Stopped at step 8 of 12: likeness stopped improving after step 4 — saved 33% of the time. "
        "The LoRA is the checkpoint from step 4."
    )
    assert job.result["steps"] == 4 and job.result["recommendation"]["step"] == 4
    final = job.result["lora_path"]
    checkpoint = next(c for c in job.result["checkpoints"] if c.endswith("_000000004.safetensors"))
    with safe_open(final, framework="pt") as a, safe_open(checkpoint, framework="pt") as b:
        assert all(a.get_tensor(k).equal(b.get_tensor(k)) for k in a.keys())  # noqa: SIM118
    assert ctx.characters.get("Ada")  # and the LoRA is the character's newest
    assert ctx.loras.newest_for_character(ctx.characters.get("Ada").id).path.name == final.rsplit("/", 1)[-1]


@pytest.mark.slow
def test_the_built_in_trainer_stops_itself_at_its_best(prod):
    job = prod.runner.wait(
        prod.training.submit(
            "Ada", base_model="tiny-flux", backend="diffusers", preset="tiny-cpu", overrides=TINY
        ),
        timeout=300,
    )
    _check_stopped_at_its_best(prod, job)


@pytest.mark.slow
def test_stopped_by_the_person_and_resumed_it_still_stops_at_its_best(prod):
    job_id = prod.training.submit(
        "Ada", base_model="tiny-flux", backend="diffusers", preset="tiny-cpu", overrides=TINY
    )
    wait_for(lambda: prod.runner.get(job_id).progress.get("step", 0) >= 3, timeout=180, interval=0.01)
    prod.runner.cancel(job_id)
    assert prod.runner.wait(job_id, timeout=60).status == "cancelled"
    prod.runner.resume(job_id)
    _check_stopped_at_its_best(prod, prod.runner.wait(job_id, timeout=300))
