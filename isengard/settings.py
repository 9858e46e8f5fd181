"""Settings from the environment, validated once, with errors a person can act on.

Nothing here runs at import time: `Settings.from_env()` is called by `bootstrap()` / the CLI.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from isengard.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODES = ("production", "fast-test")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
RUNPOD_VOLUMES = ("/runpod-volume", "/workspace")


@dataclass(frozen=True)
class Settings:
    mode: str
    mode_reason: str
    data_dir: Path
    log_dir: Path
    tmp_dir: Path
    data_dir_reason: str
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int | None = None  # WORKER_CONCURRENCY; unset: one job per GPU (see worker_concurrency)
    comfyui_url: str | None = None
    comfyui_lora_dir: Path | None = None
    comfyui_models_dir: Path | None = None  # COMFYUI_MODELS_DIR: whose model files Settings offers to import
    ai_toolkit_dir: Path | None = None
    ai_toolkit_python: Path | None = None
    hf_token: str | None = field(default=None, repr=False)
    hub_endpoint: str | None = (
        None  # HF_ENDPOINT: another Hub (a mirror, an on-premise Hub); None: huggingface.co
    )
    redis_url: str | None = field(default=None, repr=False)  # GPU jobs through Redis to workers anywhere
    worker_token: str | None = field(default=None, repr=False)  # what studio and workers sign jobs with
    auth: tuple[str, str] | None = field(default=None, repr=False)
    share: bool = False
    max_upload_mb: int = 50
    caption_model: str | None = None  # ISENGARD_CAPTION_MODEL: BLIP's weights (a folder or a Hub repo)
    florence_model: str | None = (
        None  # ISENGARD_FLORENCE_MODEL: Florence-2's weights (a folder or a Hub repo)
    )

    @property
    def fast_test(self) -> bool:
        return self.mode == "fast-test"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def worker_concurrency(self) -> int:
        """How many GPU jobs run at once: WORKER_CONCURRENCY, else one per GPU this process sees (slot i
        is GPU i), else one."""
        if self.concurrency is not None:
            return self.concurrency
        from isengard import device

        return max(1, len(device.list_gpus()))

    @property
    def login_required(self) -> bool:
        return self.share or not self.is_loopback

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    def public_dict(self) -> dict:
        """What `doctor` prints: never the token or the password."""
        return {
            "mode": self.mode,
            "mode_reason": self.mode_reason,
            "data_dir": str(self.data_dir),
            "data_dir_reason": self.data_dir_reason,
            "log_dir": str(self.log_dir),
            "tmp_dir": str(self.tmp_dir),
            "log_level": self.log_level,
            "host": self.host,
            "port": self.port,
            "worker_concurrency": self.worker_concurrency,
            "comfyui_url": self.comfyui_url,
            "comfyui_lora_dir": str(self.comfyui_lora_dir) if self.comfyui_lora_dir else None,
            "comfyui_models_dir": str(self.comfyui_models_dir) if self.comfyui_models_dir else None,
            "ai_toolkit_dir": str(self.ai_toolkit_dir) if self.ai_toolkit_dir else None,
            "hf_token_set": bool(self.hf_token),
            "redis": bool(self.redis_url),
            "worker_token_set": bool(self.worker_token),
            "auth_set": self.auth is not None,
            "login_required": self.login_required,
        }

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        cuda_available: Callable[[], bool] | None = None,
        volume_roots: Sequence[str] = RUNPOD_VOLUMES,
        project_root: Path = PROJECT_ROOT,
    ) -> Settings:
        env = os.environ if env is None else env
        mode, mode_reason = _resolve_mode(env, cuda_available)
        data_dir, log_dir, tmp_dir, why = resolve_paths(env, volume_roots, project_root)
        return cls(
            mode=mode,
            mode_reason=mode_reason,
            data_dir=data_dir,
            log_dir=log_dir,
            tmp_dir=tmp_dir,
            data_dir_reason=why,
            log_level=_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            host=_host(env),
            port=_port(env),
            concurrency=_int(env, "WORKER_CONCURRENCY", None, 0 if _redis_url(env) else 1, 16),
            comfyui_url=_urls(env, "COMFYUI_URL"),
            comfyui_lora_dir=_opt_path(env, "COMFYUI_LORA_DIR"),
            comfyui_models_dir=_opt_path(env, "COMFYUI_MODELS_DIR"),
            ai_toolkit_dir=_opt_path(env, "AI_TOOLKIT_DIR"),
            ai_toolkit_python=_opt_path(env, "AI_TOOLKIT_PYTHON"),
            hf_token=(env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or "").strip() or None,
            hub_endpoint=(env.get("HF_ENDPOINT") or "").strip().rstrip("/") or None,
            auth=_auth(env),
            share=_bool(env, "ISENGARD_SHARE", False),
            redis_url=_redis_url(env),
            worker_token=_worker_token(env),
            max_upload_mb=_int(env, "ISENGARD_MAX_UPLOAD_MB", 50, 1, 2048),
            caption_model=env.get("ISENGARD_CAPTION_MODEL", "").strip() or None,
            florence_model=env.get("ISENGARD_FLORENCE_MODEL", "").strip() or None,
        )


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_paths(
    env: Mapping[str, str], volume_roots: Sequence[str], project_root: Path
) -> tuple[Path, Path, Path, str]:
    """Data, log and scratch directories: explicit env, else a RunPod volume, else ./data ./logs ./tmp."""
    volume = next((Path(v) for v in volume_roots if Path(v).is_dir()), None)
    if env.get("DATA_DIR"):
        data_dir, why = _abs(env["DATA_DIR"], project_root), "DATA_DIR is set"
    elif volume is not None:
        data_dir, why = volume / "isengard", f"RunPod volume {volume} found"
    else:
        data_dir, why = project_root / "data", "default (no DATA_DIR, no RunPod volume)"
    if env.get("LOG_DIR"):
        log_dir = _abs(env["LOG_DIR"], project_root)
    elif volume is not None and not env.get("DATA_DIR"):
        log_dir = volume / "isengard-logs"
    else:
        log_dir = project_root / "logs"
    tmp_dir = _abs(env["TMP_DIR"], project_root) if env.get("TMP_DIR") else project_root / "tmp"
    return data_dir, log_dir, tmp_dir, why


def _abs(value: str, root: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (root / p).resolve()


def _resolve_mode(env: Mapping[str, str], cuda_available: Callable[[], bool] | None) -> tuple[str, str]:
    raw = env.get("ISENGARD_MODE", "").strip().lower()
    if raw:
        if raw not in MODES:
            raise SettingsError(
                f"ISENGARD_MODE={raw!r} is not a mode Isengard knows.",
                hint="Use 'production' (real models) or 'fast-test' (no GPU or weights needed), or unset it.",
            )
        return raw, "ISENGARD_MODE is set"
    if cuda_available is None:
        from isengard.device import cuda_available as _cuda

        cuda_available = _cuda
    if cuda_available():
        return "production", "a CUDA GPU was found"
    return "fast-test", "no CUDA GPU was found (set ISENGARD_MODE=production to use the real models on CPU)"


def _choice(env, name, default, choices, *, upper=False) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = raw.upper() if upper else raw
    if value not in choices:
        raise SettingsError(f"{name}={raw!r} is not valid.", hint=f"Use one of: {', '.join(choices)}.")
    return value


def _int(env, name, default, lo, hi) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number.") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={value} is out of range.", hint=f"Use a number from {lo} to {hi}.")
    return value


def _bool(env, name, default) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not true or false.")


def _port(env) -> int:
    if env.get("PORT", "").strip():
        return _int(env, "PORT", 7860, 1, 65535)
    return _int(env, "API_PORT", 7860, 1, 65535)


def _host(env) -> str:
    host = env.get("HOST", "").strip() or "127.0.0.1"
    if host == "localhost":
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all(part.isalnum() or "-" in part for part in host.split(".")):
            raise SettingsError(f"HOST={host!r} is not an address to listen on.") from None
    return host


def _url(env, name) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name}={raw!r} is not an http(s) URL.", hint="Example: http://127.0.0.1:8188")
    return raw.rstrip("/")


def _urls(env, name) -> str | None:
    """One http(s) URL, or several separated by commas (each checked)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    found = [_url({name: part}, name) for part in raw.split(",") if part.strip()]
    return ",".join(u for u in found if u) or None


def _redis_url(env) -> str | None:
    raw = env.get("REDIS_URL", "").strip()
    if not raw:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in ("redis", "rediss", "unix") or not (parsed.netloc or parsed.path):
        raise SettingsError(
            "REDIS_URL is not a Redis address.", hint="Example: REDIS_URL=redis://10.0.0.5:6379/0"
        )
    return raw


def _worker_token(env) -> str | None:
    raw = env.get("ISENGARD_WORKER_TOKEN", "").strip()
    if raw and len(raw) < 16:
        raise SettingsError(
            "ISENGARD_WORKER_TOKEN is too short.",
            hint="Use at least 16 characters, e.g. the output of: python -c 'import secrets; print(secrets.token_hex(16))'",
        )
    return raw or None


def _opt_path(env, name) -> Path | None:
    """An absolute path, symlinks kept: a venv's python is a symlink that must not be resolved away."""
    raw = env.get(name, "").strip()
    return Path(raw).expanduser().absolute() if raw else None


def _auth(env) -> tuple[str, str] | None:
    raw = env.get("ISENGARD_AUTH", "")
    if not raw.strip():
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user.strip() or not password:
        raise SettingsError(
            "ISENGARD_AUTH must look like user:password.", hint="Example: ISENGARD_AUTH=alice:correct-horse"
        )
    if len(password) < 8:
        raise SettingsError("The ISENGARD_AUTH password is shorter than 8 characters.")
    return user.strip(), password
