"""`train CHARACTER --base MODEL …`: train a LoRA through the same job runner as the Training tab."""

from __future__ import annotations

import argparse

from isengard.cli.common import follow_job, info, print_json
from isengard.cli.remote import Studio, add_server_argument, finished, server_url
from isengard.context import bootstrap
from isengard.errors import JobFailedError
from isengard.training.presets import checked_setting


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a character's LoRA")
    p.add_argument("character", help="the character's name (or id)")
    p.add_argument("--base", required=True, help="base model id (see `models list`)")
    p.add_argument("--backend", help="training backend: diffusers, ai-toolkit or mock")
    p.add_argument("--preset", help="training preset id (default: the best fit for this GPU)")
    p.add_argument("--steps", help="training steps")
    p.add_argument("--rank", help="LoRA rank (alpha is set to the same value)")
    p.add_argument("--lr", dest="learning_rate", help="learning rate")
    p.add_argument("--resolution", help="training resolution in pixels")
    p.add_argument("--seed")
    p.add_argument("--sample-every", help="make sample pictures every N steps (0: none)")
    p.add_argument("--save-every", help="keep a checkpoint every N steps")
    p.add_argument(
        "--conv",
        dest="train_conv",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also train the convolution layers (SD 1.5/SDXL): more style, each step ~1.3× slower",
    )
    p.add_argument(
        "--sample-prompt",
        dest="sample_prompts",
        action="append",
        metavar="TEXT",
        help="your own sample prompt, with the trigger word (repeatable; default: five standard framings)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_server_argument(p)
    p.set_defaults(func=run)


SETTINGS = (
    "steps",
    "rank",
    "learning_rate",
    "resolution",
    "seed",
    "sample_every",
    "save_every",
    "train_conv",
)


def overrides_of(args) -> dict:
    overrides = {k: getattr(args, k) for k in SETTINGS}
    if args.rank:
        overrides["alpha"] = args.rank  # alpha follows the rank, the safe default
    return overrides


def run_on_server(args, url: str) -> int:
    studio = Studio(url)
    # typed here, as a local run types them, so the studio receives numbers, not text ("12")
    settings = {k: checked_setting(k, v) for k, v in overrides_of(args).items() if v is not None}
    queued = studio.call(
        "train",
        character=args.character,
        base_model=args.base,
        backend=args.backend or "",
        preset=args.preset or "",
        settings=settings,
        sample_prompts=args.sample_prompts or [],
    )
    if not args.json:
        info(f"queued in the studio at {url} (preset {queued['preset']})")
    result = finished(studio.follow(queued["job_id"], quiet=args.json), "Training", with_id=True)
    print_json({"job_id": queued["job_id"], **result}) if args.json else print_result(result)
    return 0


def print_result(result: dict) -> None:
    print(result["lora_path"])
    rec = result.get("recommendation")
    if rec:
        info(f"likeness: {rec['reason']}")
        if rec.get("file") and rec["file"] != result["lora_path"]:
            info(f"recommended checkpoint: {rec['file']}")


def run(args) -> int:
    url = server_url(args)
    if url:
        return run_on_server(args, url)
    ctx = bootstrap(console_level="ERROR")
    try:
        overrides = overrides_of(args)
        if not args.preset:
            preset, reason = ctx.training.recommend(args.base)
            if not args.json:
                info(f"preset: {preset.label} — {reason}")
        job_id = ctx.training.submit(
            args.character,
            base_model=args.base,
            backend=args.backend,
            preset=args.preset,
            overrides=overrides,
            sample_prompts=args.sample_prompts,
        )
        job = follow_job(ctx.runner, job_id, quiet=args.json)
        if job.status != "succeeded":
            raise JobFailedError(
                f"Training {job.status}: {job.error or 'no details'}", hint=f"Job id: {job_id}"
            )
        result = job.result or {}
        if args.json:
            print_json({"job_id": job_id, **result})
        else:
            print_result(result)
        return 0
    finally:
        ctx.close()
