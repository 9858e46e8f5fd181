"""The ComfyUI image backend: Isengard's requests run as validated API-format workflows on a ComfyUI
server you already have (set COMFYUI_URL), with progress, previews, cancel, and ComfyUI's own PNG chunks."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from plugins.base import Availability, Cancelled, ModelRef, PluginError, PluginSettings, RunContext
from plugins.families import family_info
from plugins.image.comfyui.client import (
    ComfyClient,
    ComfyError,
    ComfyInterrupted,
    ComfyUnreachable,
)
from plugins.image.comfyui.model_files import FILES, guess_family, model_values
from plugins.image.comfyui.workflow import (
    Template,
    WorkflowError,
    discover,
    fill,
    support_problem,
    ui_workflow,
    validate,
    version_tuple,
)
from plugins.image.interface import GeneratedImage, ImageBackend, ImageRequest, ImageResult, write_preview

MIN_VERSION = (0, 3, 0)
CACHE_SECONDS = 10.0
SAMPLERS = {  # Isengard's sampler names → ComfyUI sampler_name, scheduler
    "euler": ("euler", "normal"),
    "euler_a": ("euler_ancestral", "normal"),
    "dpmpp_2m": ("dpmpp_2m", "normal"),
    "dpmpp_2m_karras": ("dpmpp_2m", "karras"),
    "ddim": ("ddim", "ddim_uniform"),
}
LABELS = {
    ("euler", "normal"): "Euler",
    ("euler_ancestral", "normal"): "Euler a",
    ("dpmpp_2m", "normal"): "DPM++ 2M",
    ("dpmpp_2m", "karras"): "DPM++ 2M Karras",
    ("ddim", "ddim_uniform"): "DDIM",
    ("euler", "simple"): "Euler",
}
PREVIEW_SECONDS = 0.4


def label_of(request: ImageRequest) -> str:
    return family_info(request.base.family).label


class ComfyUIBackend(ImageBackend):
    name = "comfyui"
    version = "1.0.0"
    label = "ComfyUI server"
    description = "Runs FLUX, SDXL and SD 1.5 workflows on your ComfyUI (COMFYUI_URL)."
    families = ("flux", "sdxl", "sd15", "flux2_klein", "flux2", "zimage", "qwen_image")
    needs_weights = False  # the weights live on the ComfyUI server

    def __init__(self, settings: PluginSettings, url: str | None = None):
        self.settings = settings
        urls = [u.strip() for u in (url or settings.comfyui_url or "").split(",") if u.strip()]
        self.url = urls[0] if urls else None
        # several servers (COMFYUI_URL=a,b): one backend each; a picture goes to the shortest queue
        self.servers = [ComfyUIBackend(settings, url=u) for u in urls] if len(urls) > 1 else []
        self.lora_dir = settings.comfyui_lora_dir
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    # state of the server, cached for a few seconds -----------------------------------------------------
    def _client(self, log=None) -> ComfyClient:
        return ComfyClient(self.url, log=log)

    def _cached(self, key: str, fetch, seconds: float = CACHE_SECONDS):
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < seconds:
                return hit[1]
        value = fetch()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def availability(self) -> Availability:
        if self.servers:
            answers = [(s.url, s.availability()) for s in self.servers]
            ready = [a.reason for _, a in answers if a.ok]
            if ready:
                return Availability.yes(
                    f"{len(ready)} of {len(answers)} ComfyUI servers ready: " + "; ".join(ready)
                )
            return Availability.no("; ".join(f"{u}: {a.reason}" for u, a in answers))
        if not self.url:
            return Availability.no(
                "COMFYUI_URL is not set (point it at your ComfyUI, e.g. http://127.0.0.1:8188)"
            )
        try:
            stats = self._cached("stats", lambda: self._client().system_stats(), seconds=5.0)
        except ComfyError as exc:
            return Availability.no(str(exc))
        version = (stats.get("system") or {}).get("comfyui_version", "")
        if not version:
            return Availability.no(
                f"{self.url} does not look like a ComfyUI server (no version in /system_stats)"
            )
        if version_tuple(version) < MIN_VERSION:
            return Availability.no(f"ComfyUI {version} is too old; Isengard needs 0.3.0 or newer")
        device = ((stats.get("devices") or [{}])[0]).get("name", "?")
        return Availability.yes(f"ComfyUI {version} at {self.url} ({device})")

    def object_info(self, refresh: bool = False) -> dict[str, Any]:
        if self.servers:
            return self.first_ready().object_info(refresh)
        if refresh:
            self._cache.pop("object_info", None)
        return self._cached("object_info", lambda: self._client().object_info(), seconds=300.0)

    def models(self, folder: str) -> list[str]:
        if self.servers:
            return self.first_ready().models(folder)
        return self._cached(f"models:{folder}", lambda: self._client().models(folder))

    def templates(self) -> dict[str, Template]:
        return discover(self.settings.workflows_dir, Path(self.settings.data_dir) / "workflows")

    def base_models(self) -> list[ModelRef] | None:
        if self.servers:
            return self.first_ready().base_models()
        if not self.availability().ok:
            return None
        refs = []
        for name in self.models("checkpoints"):
            refs.append(
                ModelRef(
                    id=f"comfyui:checkpoints/{name}",
                    family=guess_family(name),
                    source=f"checkpoints/{name}",
                    label=f"{name} (ComfyUI)",
                )
            )
        for name in self.models("diffusion_models"):
            refs.append(
                ModelRef(
                    id=f"comfyui:diffusion_models/{name}",
                    family=guess_family(name) if guess_family(name) in FILES else "flux",
                    source=f"diffusion_models/{name}",
                    label=f"{name} (ComfyUI)",
                )
            )
        return refs

    # turning a request into a graph --------------------------------------------------------------------
    def _model_values(self, request: ImageRequest, notes: list[str]) -> dict[str, Any]:
        family = request.base.family
        source = request.base.source
        if family in FILES:  # split files: diffusion model, text encoder(s), VAE
            return model_values(family, family_info(family).label, source, self.models)
        checkpoints = self.models("checkpoints")
        if source.startswith("checkpoints/"):
            return {"checkpoint": source.split("/", 1)[1]}
        match = [n for n in checkpoints if guess_family(n) == family]
        if not match:
            raise PluginError(f"ComfyUI has no {family.upper()} checkpoint in models/checkpoints.")
        notes.append(
            f"ComfyUI uses its own checkpoint {match[0]} for {request.base.label or request.base.id}."
        )
        return {"checkpoint": match[0]}

    def lora_name(self, path: Path, ctx: RunContext) -> str:
        """The name ComfyUI knows the LoRA by: copied into COMFYUI_LORA_DIR, or already in its lora list."""
        path = Path(path)
        if self.lora_dir:
            target = Path(self.lora_dir) / "isengard" / path.name
            if not target.exists() or target.stat().st_size != path.stat().st_size:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp")
                shutil.copyfile(path, tmp)
                tmp.replace(target)
                ctx.log(
                    "comfyui.lora_copied", f"{path.name} copied to ComfyUI's loras folder", target=str(target)
                )
                self._cache.pop("models:loras", None)
            return f"isengard/{path.name}"
        self._cache.pop("models:loras", None)
        for name in self.models("loras"):
            if name.replace("\\", "/").split("/")[-1] == path.name:
                return name
        raise PluginError(
            f"ComfyUI cannot see the LoRA {path.name}. Set COMFYUI_LORA_DIR to ComfyUI's models/loras folder "
            "(Isengard copies its LoRAs there), or add Isengard's LoRA folder to ComfyUI's extra_model_paths.yaml."
        )

    # several servers ------------------------------------------------------------------------------------
    def first_ready(self) -> ComfyUIBackend:
        """The server that answers the studio's questions (models, workflows): the first that is ready."""
        return next((s for s in self.servers if s.availability().ok), self.servers[0])

    def pick(self, ctx: RunContext) -> ComfyUIBackend:
        """The ready server with the shortest queue (running + waiting prompts); one that does not answer
        is skipped with a note in the log."""
        loads = []
        for index, server in enumerate(self.servers):
            try:
                queue = server._client().queue()
                load = len(queue.get("queue_running") or []) + len(queue.get("queue_pending") or [])
            except ComfyError as exc:
                ctx.log("comfyui.server_skipped", f"{server.url} skipped: {exc}", server=server.url)
                continue
            if not server.availability().ok:
                ctx.log("comfyui.server_skipped", f"{server.url} skipped: not ready", server=server.url)
                continue
            loads.append((load, index, server))
        if not loads:
            raise PluginError("None of the ComfyUI servers answers right now.")
        load, _, chosen = min(loads, key=lambda item: item[:2])
        ctx.log("comfyui.server_chosen", f"{chosen.url} ({load} in its queue)", server=chosen.url, queue=load)
        return chosen

    # running -------------------------------------------------------------------------------------------
    def run(self, request: ImageRequest, ctx: RunContext) -> ImageResult:
        if self.servers:
            return self.pick(ctx).run(request, ctx)
        avail = self.availability()
        if not avail.ok:
            raise PluginError(f"ComfyUI is not available: {avail.reason}")
        templates = self.templates()
        template = templates.get(request.base.family)
        label = family_info(request.base.family).label
        if template is None:
            raise PluginError(f"Isengard has no ComfyUI workflow for {label} yet; use the built-in backend.")
        notes: list[str] = []
        try:
            object_info = self.object_info()
            version = (self._cached("stats", lambda: self._client().system_stats()).get("system") or {}).get(
                "comfyui_version", ""
            )
            problem = support_problem(template, version, object_info, label)
            if problem:
                raise PluginError(problem)
            values = self._model_values(request, notes)
            loras = [(self.lora_name(lora.path, ctx), float(lora.strength)) for lora in request.loras]
            sampler = self._sampler(template, request, notes)
            values.update(sampler["values"])
            images: list[GeneratedImage] = []
            for index in range(request.count):
                ctx.check_cancelled()
                images.append(self._one(template, request, values, loras, object_info, index, ctx))
        except ComfyInterrupted as exc:
            raise Cancelled(str(exc)) from None
        except (ComfyError, WorkflowError) as exc:
            raise PluginError(str(exc)) from None
        return ImageResult(
            images=images,
            notes=notes,
            info={"sampler": sampler["label"], "workflow": template.name, "workflow_source": template.source},
        )

    def _sampler(self, template: Template, request: ImageRequest, notes: list[str]) -> dict[str, Any]:
        if request.scheduler in SAMPLERS:
            if request.base.family in FILES and request.scheduler != "euler":
                notes.append(
                    f"{label_of(request)} in ComfyUI uses the workflow's own sampler; the sampler setting was ignored."
                )
                return {"values": {}, "label": "Euler"}
            name, schedule = SAMPLERS[request.scheduler]
            return {"values": {"sampler": name, "scheduler": schedule}, "label": LABELS[(name, schedule)]}
        node = template.graph[template.node_id(template.parameters["sampler"][0].node)]["inputs"]
        schedule_binding = template.parameters.get("scheduler", [None])[0]
        schedule = (
            template.graph[template.node_id(schedule_binding.node)]["inputs"][schedule_binding.input]
            if schedule_binding
            else "normal"
        )
        key = (node.get("sampler_name", "euler"), schedule)
        return {"values": {}, "label": LABELS.get(key, f"{key[0]} ({key[1]})")}

    def _one(
        self,
        template: Template,
        request: ImageRequest,
        values: dict[str, Any],
        loras,
        object_info,
        index: int,
        ctx: RunContext,
    ) -> GeneratedImage:
        seed = request.seed + index
        filled = {
            **values,
            "prompt": request.prompt,
            "negative": request.negative_prompt,
            "seed": seed,
            "steps": request.steps,
            # KSampler/CFGGuider take standard CFG; Z-Image's guidance is an offset (0 = off = CFG 1)
            "cfg": request.guidance
            + (1.0 if family_info(request.base.family).guidance == "cfg_offset" else 0.0),
            "guidance": request.guidance,
            "width": request.width,
            "height": request.height,
            "filename_prefix": f"isengard/{ctx.job_id}",
        }
        graph = fill(template, filled, loras)
        problems = validate(graph, object_info)
        if problems:
            fresh = self.object_info(refresh=True)  # new model files show up without a restart
            problems = validate(graph, fresh)
            object_info = fresh
        if problems:
            raise PluginError("The ComfyUI workflow does not fit this server: " + "; ".join(problems[:5]))
        progress_id = template.node_id(template.progress_node, graph) if template.progress_node else None
        ui = ui_workflow(graph, object_info)
        total = request.steps * request.count
        last_preview = [0.0]

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "progress" and (progress_id is None or data.get("node") == progress_id):
                step = int(data.get("value", 0)) * request.steps // max(1, int(data.get("max", 1)))
                ctx.progress(step=index * request.steps + step, total=total, image_index=index)
            elif kind == "executing" and data.get("node"):
                title = (graph.get(data["node"], {}).get("_meta") or {}).get("title", data["node"])
                ctx.progress(message=f"ComfyUI: {title}")

        def on_preview(mime: str, payload: bytes) -> None:
            if time.monotonic() - last_preview[0] < PREVIEW_SECONDS:
                return
            last_preview[0] = time.monotonic()
            from PIL import Image

            try:
                with Image.open(io.BytesIO(payload)) as picture:
                    preview_path = write_preview(picture, self.settings.tmp_dir, ctx.job_id)
                ctx.progress(preview=str(preview_path))
            except OSError:
                ctx.log("comfyui.preview_unreadable", f"a {mime} preview frame could not be read")

        client = self._client(log=ctx.log)
        outcome = client.run(
            graph,
            on_event=on_event,
            on_preview=on_preview,
            should_cancel=ctx.is_cancelled,
            extra_data={"extra_pnginfo": {"workflow": ui}},
        )
        output_id = template.node_id(template.output_node, graph)
        found = (outcome.outputs.get(output_id) or {}).get("images") or []
        if not found:
            raise PluginError("ComfyUI finished but returned no image from the workflow's Save node.")
        from PIL import Image

        payload = client.view(found[0])
        with Image.open(io.BytesIO(payload)) as fetched:
            fetched.load()
            text = {
                k: v for k, v in (getattr(fetched, "text", None) or {}).items() if k in ("prompt", "workflow")
            }
            image = fetched.convert("RGB")
        text.setdefault("prompt", json.dumps(graph))
        text.setdefault("workflow", json.dumps(ui))
        ctx.log(
            "comfyui.image",
            f"image {index + 1} from ComfyUI",
            prompt_id=outcome.prompt_id,
            cached=len(outcome.cached_nodes),
            recovered=outcome.recovered_from_history,
        )
        return GeneratedImage(image=image, seed=seed, png_text=text)


__all__ = ["ComfyUIBackend", "ComfyUnreachable"]
