import ast
from pathlib import Path

import pytest

from isengard.capabilities import CAPABILITIES, capability_matrix
from isengard.settings import PROJECT_ROOT
from plugins import register_builtin_plugins
from plugins.base import Availability, DuplicatePluginError, PluginRegistry, PluginSettings
from plugins.image.mock import MockImageBackend
from plugins.training.mock import MockTrainer


def test_duplicate_registration_is_rejected():
    registry = PluginRegistry()
    registry.register(MockTrainer())
    with pytest.raises(DuplicatePluginError, match="already registered"):
        registry.register(MockTrainer())


def test_plugins_must_declare_kind_name_version():
    class Nameless(MockTrainer):
        name = ""

    with pytest.raises(ValueError, match="non-empty name"):
        PluginRegistry().register(Nameless())


def test_broken_availability_shows_as_unavailable():
    class Broken(MockImageBackend):
        name = "broken"

        def availability(self) -> Availability:
            raise RuntimeError("driver exploded")

    registry = PluginRegistry()
    registry.register(Broken())
    row = registry.describe()[0]
    assert row["available"] is False and "driver exploded" in row["reason"]


def test_capability_matrix_has_the_spec_content():
    registry = PluginRegistry()
    register_builtin_plugins(registry, PluginSettings())
    rows = {row["key"]: row for row in capability_matrix(registry)}
    assert rows["training.lora"]["status"] == "supported" and rows["training.lora"]["usable"]
    assert rows["training.dora"]["status"] == "not_implemented" and not rows["training.dora"]["usable"]
    assert rows["training.full_finetune"]["status"] == "out_of_scope"
    assert rows["image.comfyui"]["status"] == "supported"
    assert rows["video.generation"]["status"] == "scaffold_only" and not rows["video.generation"]["usable"]
    assert len(rows) == len(CAPABILITIES)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_core_never_imports_a_concrete_adapter():
    allowed = {"plugins", "plugins.base", "plugins.families", "plugins.lora_format"} | {
        f"plugins.{kind}.interface" for kind in ("training", "image", "video", "captioning")
    }
    offenders = []
    for path in (PROJECT_ROOT / "isengard").rglob("*.py"):
        for name in _imports(path):
            if name.startswith("plugins") and name not in allowed:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)} imports {name}")
    assert offenders == []


def test_adapters_never_import_gradio_each_other_or_the_core():
    offenders = []
    for path in (PROJECT_ROOT / "plugins").rglob("*.py"):
        if path.name in ("__init__.py", "interface.py", "base.py"):
            continue
        parts = path.relative_to(PROJECT_ROOT / "plugins").parts
        if len(parts) < 2:
            continue  # shared helpers at plugins/ top level
        own = ".".join(("plugins", *parts[:2])).removesuffix(".py")
        for name in _imports(path):
            if name.startswith("gradio") or name.startswith("isengard"):
                offenders.append(f"{path.name} imports {name}")
            if name.startswith("plugins.") and name.count(".") >= 2:
                kind_pkg = ".".join(name.split(".")[:3])
                if not kind_pkg.endswith("interface") and not name.startswith(own):
                    offenders.append(f"{path.name} imports {name}")
    assert offenders == []
