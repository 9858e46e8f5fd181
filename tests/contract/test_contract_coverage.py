"""Meta-test: every plugin that Isengard registers has a contract suite entry."""

from plugins import register_builtin_plugins
from plugins.base import PLUGIN_KINDS, PluginRegistry, PluginSettings
from tests.contract.plugins_under_test import FACTORIES
from tests.helpers import make_settings


def test_every_registered_plugin_has_a_contract_test(tmp_path):
    for mode in ("fast-test", "production"):
        settings = make_settings(tmp_path, mode=mode)
        registry = PluginRegistry()
        register_builtin_plugins(
            registry,
            PluginSettings(mode=settings.mode, data_dir=settings.data_dir, tmp_dir=settings.tmp_dir),
        )
        missing = [f"{p.kind}/{p.name}" for p in registry.all() if (p.kind, p.name) not in FACTORIES]
        assert missing == [], f"plugins without a contract test: {missing}"


def test_every_interface_has_a_contract_suite():
    from pathlib import Path

    here = Path(__file__).parent
    for kind in PLUGIN_KINDS:
        assert (here / f"test_{kind}_contract.py").exists(), f"no contract suite for {kind} plugins"
