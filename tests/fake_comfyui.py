"""A fake ComfyUI 0.3.64 on loopback, behaving as the recorded captures show (tests/fixtures/comfyui).

HTTP: /system_stats, /object_info, /models, POST /prompt (with ComfyUI's 400 validation bodies), /history,
/queue, /interrupt, /view, /features. Websocket /ws?clientId=…: per-prompt events only to the socket with
the prompt's client_id; the recorded message order (status, execution_start, execution_cached, then per
node progress_state/executing/[progress…]/executed, execution_success, executing{node:null} last); fully
cached re-runs; binary preview frames (type 1, or type 4 after the feature-flag handshake); execution errors
for zero-byte ("dummy") model files; interrupts checked at every sampler step. It can also replay a
recorded message sequence verbatim, and drop a socket mid-run.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import struct
import threading
import time
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "comfyui"
SAMPLERS = {"KSampler": ("steps", None), "SamplerCustomAdvanced": (None, "sigmas")}
MODEL_FOLDERS = {
    "ckpt_name": "checkpoints",
    "lora_name": "loras",
    "unet_name": "diffusion_models",
    "clip_name1": "text_encoders",
    "clip_name2": "text_encoders",
    "clip_name": "text_encoders",
    "vae_name": "vae",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def with_flux2(object_info: dict[str, Any]) -> dict[str, Any]:
    extra = fixture("flux2_nodes.json")
    info = {**copy.deepcopy(object_info), **copy.deepcopy(extra["nodes"])}
    info["CLIPLoader"]["input"]["required"]["type"][0] += extra["clip_types"]
    return info


class FakeComfyUI:
    def __init__(self, *, previews: bool = False, step_seconds: float = 0.01, version: str = "0.3.64"):
        self.previews = previews
        self.step_seconds = step_seconds
        self.version = version
        self.base_object_info = fixture("object_info.json")
        self.models: dict[str, list[str]] = {
            "checkpoints": [],
            "loras": [],
            "diffusion_models": [],
            "text_encoders": [],
            "vae": [],
        }
        self.watched: dict[str, Path] = {}
        self.outputs: dict[str, bytes] = {}
        self.history_store: dict[str, Any] = {}
        self.queue_items: list[dict[str, Any]] = []
        self.running: dict[str, Any] | None = None
        self.sockets: dict[str, Any] = {}  # client id -> websocket
        self.flags: dict[str, bool] = {}  # client id -> sent supports_preview_metadata
        self.cache: dict[str, str] = {}  # node signature -> node id of a cached run
        self.counter = 0
        self.number = 0
        self.interrupt_flag = threading.Event()
        self.replays: list[dict[str, Any]] = []
        self.drop_socket_at_step: int | None = None
        self.requests: list[tuple[str, str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._work = threading.Event()
        self.url = ""

    # set-up -----------------------------------------------------------------------------------------------
    def add_model(self, folder: str, name: str) -> None:
        self.models[folder].append(name)

    def watch_folder(self, folder: str, path: Path) -> None:
        """Files appearing under `path` show up in `folder` at once, as in a real ComfyUI."""
        self.watched[folder] = Path(path)

    def model_list(self, folder: str) -> list[str]:
        names = list(self.models.get(folder, []))
        root = self.watched.get(folder)
        if root is not None and root.exists():
            names += [p.relative_to(root).as_posix() for p in root.rglob("*.safetensors")]
        return sorted(names)

    def with_flux2(self) -> None:
        """Serve what a ComfyUI with FLUX.2 support adds (tests/fixtures/comfyui/flux2_nodes.json)."""
        self.base_object_info = with_flux2(self.base_object_info)

    def object_info(self) -> dict[str, Any]:
        info = copy.deepcopy(self.base_object_info)
        lists = {
            "CheckpointLoaderSimple": {"ckpt_name": "checkpoints"},
            "LoraLoader": {"lora_name": "loras"},
            "LoraLoaderModelOnly": {"lora_name": "loras"},
            "UNETLoader": {"unet_name": "diffusion_models"},
            "DualCLIPLoader": {"clip_name1": "text_encoders", "clip_name2": "text_encoders"},
            "CLIPLoader": {"clip_name": "text_encoders"},
            "VAELoader": {"vae_name": "vae"},
        }
        for node, inputs in lists.items():
            for name, folder in inputs.items():
                spec = info[node]["input"]["required"][name]
                extra = ["pixel_space"] if node == "VAELoader" else []
                info[node]["input"]["required"][name] = [self.model_list(folder) + extra, *spec[1:]]
        return info

    def replay_next(
        self, messages: list[dict[str, Any]], history_entry: dict[str, Any] | None = None
    ) -> None:
        """The next queued prompt gets these recorded messages verbatim (its prompt_id substituted)."""
        self.replays.append({"messages": messages, "history": history_entry})

    # the server ---------------------------------------------------------------------------------------------
    def start(self) -> FakeComfyUI:
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), host="127.0.0.1", port=port, log_level="warning", ws="auto")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        threading.Thread(target=self._executor, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=5)

    def _app(self):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route, WebSocketRoute

        fake = self

        async def system_stats(request: Request):
            stats = fixture("system_stats.json")
            stats["system"]["comfyui_version"] = fake.version
            return JSONResponse(stats)

        async def object_info(request: Request):
            name = request.path_params.get("node")
            info = fake.object_info()
            if name:
                return JSONResponse({name: info[name]} if name in info else {})
            return JSONResponse(info)

        async def models(request: Request):
            return JSONResponse(fake.model_list(request.path_params["folder"]))

        async def features(request: Request):
            return JSONResponse(fixture("features.json"))

        async def prompt(request: Request):
            if request.method == "GET":
                return JSONResponse({"exec_info": {"queue_remaining": len(fake.queue_items)}})
            try:
                body = json.loads(await request.body())
            except ValueError:
                return Response("500 Internal Server Error\n\nServer got itself in trouble", status_code=500)
            fake.requests.append(("POST", "/prompt", body))
            status, answer = fake.submit(body)
            return JSONResponse(answer, status_code=status)

        async def history(request: Request):
            prompt_id = request.path_params.get("prompt_id")
            if prompt_id:
                entry = fake.history_store.get(prompt_id)
                return JSONResponse({prompt_id: entry} if entry else {})
            return JSONResponse(fake.history_store)

        async def queue(request: Request):
            if request.method == "POST":
                body = json.loads(await request.body() or b"{}")
                fake.requests.append(("POST", "/queue", body))
                if body.get("clear"):
                    fake.queue_items.clear()
                for prompt_id in body.get("delete", []):
                    fake.queue_items[:] = [q for q in fake.queue_items if q["prompt_id"] != prompt_id]
                return Response(status_code=200)

            def item(q):
                return [
                    q["number"],
                    q["prompt_id"],
                    q["prompt"],
                    {"client_id": q["client_id"]},
                    q["outputs"],
                ]

            return JSONResponse(
                {
                    "queue_running": [item(fake.running)] if fake.running else [],
                    "queue_pending": [item(q) for q in fake.queue_items],
                }
            )

        async def interrupt(request: Request):
            raw = await request.body()
            body = json.loads(raw) if raw else {}
            fake.requests.append(("POST", "/interrupt", body))
            target = body.get("prompt_id")
            if fake.running and (target is None or target == fake.running["prompt_id"]):
                fake.interrupt_flag.set()
            return Response(status_code=200)

        async def view(request: Request):
            name = request.query_params.get("filename", "")
            sub = request.query_params.get("subfolder", "")
            if ".." in name or ".." in sub:
                return Response(status_code=400)
            data = fake.outputs.get(f"{sub}/{name}")
            if data is None:
                return Response(status_code=404)
            return Response(
                data, media_type="image/png", headers={"Content-Disposition": f'filename="{name}"'}
            )

        async def ws(websocket):
            await websocket.accept()
            client_id = websocket.query_params.get("clientId") or uuid.uuid4().hex
            fake.sockets[client_id] = websocket
            fake._loop = asyncio.get_running_loop()
            await websocket.send_json(
                {
                    "type": "status",
                    "data": {
                        "status": {"exec_info": {"queue_remaining": len(fake.queue_items)}},
                        "sid": client_id,
                    },
                }
            )
            try:
                while True:
                    text = await websocket.receive_text()
                    message = json.loads(text)
                    if message.get("type") == "feature_flags":
                        fake.flags[client_id] = bool(message.get("data", {}).get("supports_preview_metadata"))
                        await websocket.send_json(
                            {
                                "type": "feature_flags",
                                "data": {"supports_preview_metadata": True, "max_upload_size": 104857600},
                            }
                        )
            except Exception:
                fake.sockets.pop(client_id, None)

        return Starlette(
            routes=[
                Route("/system_stats", system_stats),
                Route("/object_info", object_info),
                Route("/object_info/{node}", object_info),
                Route("/models/{folder}", models),
                Route("/features", features),
                Route("/prompt", prompt, methods=["GET", "POST"]),
                Route("/history", history),
                Route("/history/{prompt_id}", history),
                Route("/queue", queue, methods=["GET", "POST"]),
                Route("/interrupt", interrupt, methods=["POST"]),
                Route("/view", view),
                WebSocketRoute("/ws", ws),
            ]
        )

    # validation (ComfyUI's shapes) ------------------------------------------------------------------------
    def submit(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "prompt" not in body:
            return 400, {
                "error": {
                    "type": "no_prompt",
                    "message": "No prompt provided",
                    "details": "No prompt provided",
                    "extra_info": {},
                },
                "node_errors": {},
            }
        graph = body["prompt"]
        info = self.object_info()
        for node_id, node in graph.items():
            if "class_type" not in node:
                return 400, {
                    "error": {
                        "type": "invalid_prompt",
                        "message": "Cannot execute because a node is missing the class_type property.",
                        "details": f"Node ID '#{node_id}'",
                        "extra_info": {},
                    },
                    "node_errors": {},
                }
            if node["class_type"] not in info:
                return 400, {
                    "error": {
                        "type": "invalid_prompt",
                        "message": f"Cannot execute because node {node['class_type']} does not exist.",
                        "details": f"Node ID '#{node_id}'",
                        "extra_info": {},
                    },
                    "node_errors": {},
                }
        outputs = [nid for nid, node in graph.items() if info[node["class_type"]].get("output_node")]
        if not outputs:
            return 400, {
                "error": {
                    "type": "prompt_no_outputs",
                    "message": "Prompt has no outputs",
                    "details": "",
                    "extra_info": {},
                },
                "node_errors": {},
            }
        node_errors = {}
        for node_id, node in graph.items():
            errors = self._node_errors(node, info)
            if errors:
                node_errors[node_id] = {
                    "errors": errors,
                    "dependent_outputs": outputs,
                    "class_type": node["class_type"],
                }
        if node_errors:
            return 400, {
                "error": {
                    "type": "prompt_outputs_failed_validation",
                    "message": "Prompt outputs failed validation",
                    "details": "",
                    "extra_info": {},
                },
                "node_errors": node_errors,
            }
        prompt_id = body.get("prompt_id") or str(uuid.uuid4())
        number = self.number
        self.number += 1
        self.queue_items.append(
            {
                "prompt_id": prompt_id,
                "number": number,
                "prompt": graph,
                "outputs": outputs,
                "client_id": body.get("client_id"),
                "extra": body.get("extra_data", {}),
            }
        )
        self._broadcast(
            {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": len(self.queue_items)}}}}
        )
        self._work.set()
        return 200, {"prompt_id": prompt_id, "number": number, "node_errors": {}}

    @staticmethod
    def _node_errors(node: dict[str, Any], info: dict[str, Any]) -> list[dict[str, Any]]:
        spec = info[node["class_type"]]["input"]
        errors = []
        for name in spec.get("required", {}):
            if name not in node.get("inputs", {}):
                errors.append(
                    {
                        "type": "required_input_missing",
                        "message": "Required input is missing",
                        "details": name,
                        "extra_info": {"input_name": name},
                    }
                )
        for name, value in node.get("inputs", {}).items():
            definition = spec.get("required", {}).get(name) or spec.get("optional", {}).get(name)
            if definition is None or (
                isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            ):
                continue
            kind, opts = definition[0], (definition[1] if len(definition) > 1 else {})
            extra = {"input_name": name, "input_config": definition, "received_value": value}
            if isinstance(kind, list) and value not in kind:
                shown = (
                    f"(list of length {len(kind)})" if len(kind) > 20 else json.dumps(kind).replace('"', "'")
                )
                errors.append(
                    {
                        "type": "value_not_in_list",
                        "message": "Value not in list",
                        "details": f"{name}: '{value}' not in {shown}",
                        "extra_info": extra,
                    }
                )
            elif kind in ("INT", "FLOAT") and isinstance(value, int | float):
                if "min" in opts and value < opts["min"]:
                    errors.append(
                        {
                            "type": "value_smaller_than_min",
                            "message": f"Value {value} smaller than min of {opts['min']}",
                            "details": name,
                            "extra_info": extra,
                        }
                    )
                if "max" in opts and value > opts["max"]:
                    errors.append(
                        {
                            "type": "value_bigger_than_max",
                            "message": f"Value {value} bigger than max of {opts['max']}",
                            "details": name,
                            "extra_info": extra,
                        }
                    )
        return errors

    # execution -----------------------------------------------------------------------------------------------
    def _send(self, client_id: str | None, message: Any) -> None:
        socket = self.sockets.get(client_id or "")
        if socket is None or self._loop is None:
            return
        coro = socket.send_bytes(message) if isinstance(message, bytes) else socket.send_json(message)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:  # called from a request handler: do not block the loop on itself
            self._loop.create_task(coro)
            return
        try:
            asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=5)
        except Exception:
            self.sockets.pop(client_id or "", None)

    def _broadcast(self, message: dict[str, Any]) -> None:
        for client_id in list(self.sockets):
            self._send(client_id, message)

    def _executor(self) -> None:
        while True:
            self._work.wait(0.05)
            if not self.queue_items:
                self._work.clear()
                continue
            item = self.queue_items.pop(0)
            self.running = item
            self.interrupt_flag.clear()
            try:
                if self.replays:
                    self._replay(item, self.replays.pop(0))
                else:
                    self._execute(item)
            finally:
                self.running = None

    def _replay(self, item: dict[str, Any], replay: dict[str, Any]) -> None:
        text = json.dumps(replay["messages"])
        recorded_ids = {
            m["data"]["prompt_id"] for m in replay["messages"] if "prompt_id" in m.get("data", {})
        }
        for old in recorded_ids:
            text = text.replace(old, item["prompt_id"])
        for message in json.loads(text):
            self._send(item["client_id"], message)
            time.sleep(0.002)
        if replay.get("history"):
            entry = json.loads(
                json.dumps(replay["history"]).replace(next(iter(recorded_ids), "x"), item["prompt_id"])
            )
            self.history_store[item["prompt_id"]] = entry

    def _order(self, graph: dict[str, Any], outputs: list[str]) -> list[str]:
        order: list[str] = []

        def visit(node_id: str) -> None:
            if node_id in order:
                return
            for value in graph[node_id]["inputs"].values():
                if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                    visit(value[0])
            order.append(node_id)

        for output in outputs:
            visit(output)
        return order

    def _signature(self, graph: dict[str, Any], node_id: str) -> str:
        node = graph[node_id]
        parts = [node["class_type"]]
        for name, value in sorted(node["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                parts.append(f"{name}<{self._signature(graph, value[0])}>{value[1]}")
            else:
                parts.append(f"{name}={json.dumps(value)}")
        return "|".join(parts)

    def _execute(self, item: dict[str, Any]) -> None:
        prompt_id, client, graph = item["prompt_id"], item["client_id"], item["prompt"]
        now = lambda: int(time.time() * 1000)  # noqa: E731
        messages: list[list[Any]] = []
        self._send(client, {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 1}}}})
        start = {"prompt_id": prompt_id, "timestamp": now()}
        self._send(client, {"type": "execution_start", "data": start})
        messages.append(["execution_start", start])
        order = self._order(graph, item["outputs"])
        signatures = {nid: self._signature(graph, nid) for nid in order}
        cached = [nid for nid in order if signatures[nid] in self.cache]
        cached_msg = {"nodes": cached, "prompt_id": prompt_id, "timestamp": now()}
        self._send(client, {"type": "execution_cached", "data": cached_msg})
        messages.append(["execution_cached", cached_msg])
        outputs: dict[str, Any] = {}
        executed: list[str] = []
        for node_id in order:
            node = graph[node_id]
            cls = node["class_type"]
            if node_id in cached:
                if cls == "SaveImage":
                    outputs[node_id] = self.cache[signatures[node_id] + "#output"]
                    self._send(
                        client,
                        {
                            "type": "executed",
                            "data": {
                                "node": node_id,
                                "display_node": node_id,
                                "output": outputs[node_id],
                                "prompt_id": prompt_id,
                            },
                        },
                    )
                continue
            self._send(client, self._state(prompt_id, node_id, 0.0, 1.0, "running"))
            self._send(
                client,
                {
                    "type": "executing",
                    "data": {"node": node_id, "display_node": node_id, "prompt_id": prompt_id},
                },
            )
            if self.interrupt_flag.is_set():
                return self._interrupted(item, node_id, cls, executed, messages)
            failing = [
                v for k, v in node["inputs"].items() if k in MODEL_FOLDERS and str(v).startswith("dummy")
            ]
            if failing:
                error = copy.deepcopy(fixture("s3_dummy_models.json")["sd_ws"][-1]["data"])
                error.update(
                    {
                        "prompt_id": prompt_id,
                        "node_id": node_id,
                        "node_type": cls,
                        "executed": executed,
                        "current_inputs": {k: [v] for k, v in node["inputs"].items()},
                        "timestamp": now(),
                    }
                )
                self._send(client, {"type": "execution_error", "data": error})
                messages.append(["execution_error", error])
                return self._finish(item, {}, "error", messages)
            if cls in SAMPLERS:
                steps = self._steps(graph, node)
                for step in range(1, steps + 1):
                    if self.interrupt_flag.is_set():
                        return self._interrupted(item, node_id, cls, executed, messages)
                    time.sleep(self.step_seconds)
                    self._send(
                        client,
                        {
                            "type": "progress",
                            "data": {"value": step, "max": steps, "prompt_id": prompt_id, "node": node_id},
                        },
                    )
                    if self.previews:
                        self._send(client, self._preview_frame(client, prompt_id, node_id))
                    self._send(client, self._state(prompt_id, node_id, step, steps, "running"))
                    if self.drop_socket_at_step == step:
                        self.drop_socket_at_step = None
                        self._drop(client)
            if cls == "SaveImage":
                outputs[node_id] = {"images": [self._save(graph, node, item)]}
                self.cache[signatures[node_id] + "#output"] = outputs[node_id]
                self._send(
                    client,
                    {
                        "type": "executed",
                        "data": {
                            "node": node_id,
                            "display_node": node_id,
                            "output": outputs[node_id],
                            "prompt_id": prompt_id,
                        },
                    },
                )
            self._send(client, self._state(prompt_id, node_id, 1.0, 1.0, "finished"))
            self.cache[signatures[node_id]] = node_id
            executed.append(node_id)
        success = {"prompt_id": prompt_id, "timestamp": now()}
        self._send(client, {"type": "execution_success", "data": success})
        messages.append(["execution_success", success])
        self._finish(item, outputs, "success", messages)

    def _steps(self, graph: dict[str, Any], node: dict[str, Any]) -> int:
        if "steps" in node["inputs"]:
            return int(node["inputs"]["steps"])
        sigmas = graph[node["inputs"]["sigmas"][0]]
        return int(sigmas["inputs"].get("steps", 4))

    @staticmethod
    def _state(prompt_id: str, node_id: str, value, maximum, state: str) -> dict[str, Any]:
        return {
            "type": "progress_state",
            "data": {
                "prompt_id": prompt_id,
                "nodes": {
                    node_id: {
                        "value": value,
                        "max": maximum,
                        "state": state,
                        "node_id": node_id,
                        "prompt_id": prompt_id,
                        "display_node_id": node_id,
                        "parent_node_id": None,
                        "real_node_id": node_id,
                    }
                },
            },
        }

    def _preview_frame(self, client: str, prompt_id: str, node_id: str) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (120, 40, 200)).save(buffer, format="JPEG")
        jpeg = buffer.getvalue()
        if self.flags.get(client):
            meta = json.dumps(
                {
                    "node_id": node_id,
                    "prompt_id": prompt_id,
                    "display_node_id": node_id,
                    "parent_node_id": None,
                    "real_node_id": node_id,
                    "image_type": "image/jpeg",
                }
            ).encode()
            return struct.pack(">II", 4, len(meta)) + meta + jpeg
        return struct.pack(">II", 1, 1) + jpeg

    def _save(self, graph: dict[str, Any], node: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        from PIL import Image, PngImagePlugin

        latent = next(
            n
            for n in graph.values()
            if n["class_type"] in ("EmptyLatentImage", "EmptySD3LatentImage", "EmptyFlux2LatentImage")
        )
        width, height = latent["inputs"]["width"], latent["inputs"]["height"]
        seed_node = next(
            (n for n in graph.values() if "seed" in n["inputs"] or "noise_seed" in n["inputs"]), None
        )
        seed = seed_node["inputs"].get("seed", seed_node["inputs"].get("noise_seed", 0)) if seed_node else 0
        colour = (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)
        info = PngImagePlugin.PngInfo()
        info.add_text("prompt", json.dumps(graph))
        workflow = (item.get("extra") or {}).get("extra_pnginfo", {}).get("workflow")
        if workflow is not None:
            info.add_text("workflow", json.dumps(workflow))
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), colour).save(buffer, format="PNG", pnginfo=info)
        prefix = node["inputs"]["filename_prefix"]
        subfolder, _, stem = prefix.rpartition("/")
        self.counter += 1
        filename = f"{stem}_{self.counter:05d}_.png"
        self.outputs[f"{subfolder}/{filename}"] = buffer.getvalue()
        return {"filename": filename, "subfolder": subfolder, "type": "output"}

    def _interrupted(self, item, node_id, cls, executed, messages) -> None:
        data = {
            "prompt_id": item["prompt_id"],
            "node_id": node_id,
            "node_type": cls,
            "executed": executed,
            "timestamp": int(time.time() * 1000),
        }
        self._send(item["client_id"], {"type": "execution_interrupted", "data": data})
        messages.append(["execution_interrupted", data])
        self._finish(item, {}, "error", messages)

    def _finish(self, item: dict[str, Any], outputs: dict[str, Any], status: str, messages: list) -> None:
        self.history_store[item["prompt_id"]] = {
            "prompt": [
                item["number"],
                item["prompt_id"],
                item["prompt"],
                {"client_id": item["client_id"]},
                item["outputs"],
            ],
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success", "messages": messages},
            "meta": {
                nid: {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid}
                for nid in outputs
            },
        }
        self._send(
            item["client_id"],
            {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": len(self.queue_items)}}}},
        )
        self._send(
            item["client_id"], {"type": "executing", "data": {"node": None, "prompt_id": item["prompt_id"]}}
        )

    def _drop(self, client: str) -> None:
        socket = self.sockets.pop(client, None)
        if socket is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(socket.close(), self._loop)
