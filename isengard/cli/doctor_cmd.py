"""`doctor`: mode, device, paths, capability matrix and plugin availability."""

from __future__ import annotations

import platform

from isengard import __version__, device
from isengard.capabilities import capability_matrix
from isengard.cli.common import print_json
from isengard.context import bootstrap
from isengard.obs import event


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="check this machine: mode, GPU, paths, plugins")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def report(ctx) -> dict:
    from isengard.training.presets import training_needs

    needs = training_needs(ctx.training.presets)
    return {
        "version": __version__,
        "python": platform.python_version(),
        "mode": ctx.settings.mode,
        "mode_reason": ctx.settings.mode_reason,
        "device": ctx.device.to_dict(),
        "gpus": [  # slot i of the GPU lock is GPU i
            {
                "index": g.index,
                "device": g.device,
                "visible_id": g.visible_id,
                "name": g.name,
                "vram_gb": g.vram_gb,
            }
            for g in device.list_gpus()
        ],
        "gpu_jobs_at_once": ctx.settings.worker_concurrency,
        "paths": {
            "data": str(ctx.paths.data),
            "data_reason": ctx.settings.data_dir_reason,
            "logs": str(ctx.paths.logs),
            "tmp": str(ctx.paths.tmp),
            "database": str(ctx.paths.db),
        },
        "database": {"schema_version": ctx.db.schema_version},
        "settings": ctx.settings.public_dict(),
        "capabilities": capability_matrix(ctx.registry),
        "plugins": ctx.registry.describe(),
        "base_models": [
            {
                "id": m.id,
                "label": m.label,
                "licence": m.licence,
                "commercial": m.commercial,
                "trains_in_gb": needs.get(m.family),
            }
            for m in ctx.catalogue.all()
            if not m.tiny
        ],
        "recommended_base": _recommended(ctx, needs),
    }


def _recommended(ctx, needs) -> dict:
    from isengard.models.recommend import recommend_base

    vram = ctx.device.vram_gb if ctx.device.kind == "cuda" else None
    model, reason = recommend_base(ctx.catalogue.all(), vram, needs)
    return {"id": model.id, "label": model.label, "reason": reason}


def run(args) -> int:
    ctx = bootstrap(console_level="ERROR", start_runner=False)
    try:
        data = report(ctx)
        event("cli.doctor", "doctor report", mode=data["mode"], device=data["device"]["label"])
    finally:
        ctx.close()
    if args.json:
        print_json(data)
        return 0
    print(f"Isengard {data['version']} (Python {data['python']})")
    print(f"Mode:     {data['mode']} — {data['mode_reason']}")
    print(f"Device:   {data['device']['label']} (torch {data['device']['torch_version']})")
    for gpu in data["gpus"] if len(data["gpus"]) > 1 else []:
        memory = f", {gpu['vram_gb']:.0f} GB" if gpu["vram_gb"] else ""
        print(f"          GPU {gpu['index'] + 1}: {gpu['name']}{memory} ({gpu['device']})")
    print(f"GPU jobs at once: {data['gpu_jobs_at_once']} (WORKER_CONCURRENCY; unset: one per GPU)")
    print(f"Data:     {data['paths']['data']} ({data['paths']['data_reason']})")
    print(f"Logs:     {data['paths']['logs']}")
    print(f"Database: {data['paths']['database']} (schema {data['database']['schema_version']})")
    print("\nCapabilities:")
    for cap in data["capabilities"]:
        print(f"  {cap['label']:<34} {cap['status_label']:<14} {cap['live']}")
    print("\nBase models (licence · commercial use · least GPU memory to train, from the architecture):")
    for m in data["base_models"]:
        use = {True: "yes", False: "no", None: "?"}[m["commercial"]]
        need = f" · {m['trains_in_gb']:.0f} GB" if m["trains_in_gb"] else ""
        print(f"  {m['label']:<26} {m['licence'] or 'not stated'} · {use}{need}")
    print(f"Recommended: {data['recommended_base']['reason']}")
    print("\nPlugins:")
    for plugin in data["plugins"]:
        state = "available" if plugin["available"] else "unavailable"
        print(
            f"  {plugin['kind']:<11} {plugin['name']:<12} {plugin['version']:<8} {state}: {plugin['reason']}"
        )
    return 0
