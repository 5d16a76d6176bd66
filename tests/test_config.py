"""Typed configs: YAML files, dotted overrides, errors naming the key, saved resolved config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clir_calib.config import ExperimentConfig, LossSpec, config_hash, load_config, save_config
from clir_calib.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_are_typed():
    config = load_config()
    assert isinstance(config, ExperimentConfig)
    assert config.distill.losses == [LossSpec("ot")]
    assert config.models.teacher.name == "intfloat/multilingual-e5-small"


def test_dotted_overrides_parse_values_as_yaml():
    config = load_config(
        None,
        [
            "distill.lr=3e-5",
            "distill.max_pairs=100",
            "evaluate.langs=[de, fr]",
            "distill.losses=[{name: ot, weight: 1}, {name: mse, weight: 0.5}]",
            "models.student.query_prefix=null",
            "seed=7",
        ],
    )
    assert config.distill.lr == pytest.approx(3e-5)
    assert config.distill.max_pairs == 100
    assert config.evaluate.langs == ["de", "fr"]
    assert config.distill.losses[1] == LossSpec("mse", 0.5, {})
    assert config.seed == 7


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("distill.lrr=1", "distill.lrr"),
        ("nosuch.key=1", "nosuch"),
        ("distill.lr=fast", "distill.lr: expected a number"),
        ("distill.epochs=1.5", "distill.epochs: expected an integer"),
        ("distill.freeze_embeddings=maybe", "expected true or false"),
        ("distill.lr", "must look like section.key=value"),
        ("distill.losses=[{name: ot, wieght: 2}]", "distill.losses[0].wieght"),
    ],
)
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(None, [override])


def test_yaml_file_then_overrides(tmp_path):
    file = tmp_path / "exp.yaml"
    file.write_text("name: mine\ndistill:\n  lang: fr\n  batch_size: 8\n", encoding="utf-8")
    config = load_config(file, ["distill.batch_size=4"])
    assert (config.name, config.distill.lang, config.distill.batch_size) == ("mine", "fr", 4)
    assert config.distill.lr == pytest.approx(2e-5)  # untouched defaults survive a partial section


def test_unknown_key_in_file_is_named(tmp_path):
    file = tmp_path / "exp.yaml"
    file.write_text("distill:\n  leraning_rate: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="distill.leraning_rate"):
        load_config(file)


def test_broken_and_missing_files(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("distill: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(listing)


def test_saved_config_round_trips(tmp_path):
    config = load_config(None, ["distill.lr=1e-4", "name=roundtrip"])
    path = save_config(config, tmp_path / "out")
    again = load_config(path)
    assert again == config
    assert config_hash(again) == config_hash(config)
    assert config_hash(load_config(None, ["distill.lr=2e-4"])) != config_hash(config)
    assert not list((tmp_path / "out").glob(".*tmp*"))


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    load_config(path)


def test_config_fields_and_component_parameters_convert_through_one_engine():
    """One conversion for both: `yes` is true everywhere, `maybe` is refused everywhere, 3e-5 is a number,
    a non-finite number is refused (it used to pass as a config field and fail as a parameter)."""
    from clir_calib.config import load_config
    from clir_calib.errors import ConfigError
    from clir_calib.losses.ot import OTAlignmentLoss
    from clir_calib.params import Param

    flag = Param("flag", False, "a switch", type=bool)
    assert load_config(None, ["distill.freeze_embeddings=no"]).distill.freeze_embeddings is False
    assert flag.coerce("yes", "x") is True and flag.coerce("off", "x") is False
    for bad in ("maybe", 2):
        with pytest.raises(ConfigError, match="expected true or false"):
            flag.coerce(bad, "x")
    with pytest.raises(ConfigError, match="expected true or false"):
        load_config(None, ["distill.freeze_embeddings=maybe"])
    assert load_config(None, ["distill.lr='3e-5'"]).distill.lr == pytest.approx(3e-5)
    with pytest.raises(ConfigError, match="finite"):
        load_config(None, ["distill.lr=.inf"])
    with pytest.raises(ConfigError, match="finite"):
        Param("x", 1.0, "a number").coerce(float("inf"), "x")
    with pytest.raises(ConfigError, match="ot: tol must be > 0"):
        OTAlignmentLoss(tol=0)
    from clir_calib.losses.sinkhorn import DEFAULT_TOL
    assert OTAlignmentLoss().config["tol"] == DEFAULT_TOL  # the loss and the solver agree on the default


@pytest.mark.parametrize("override, message", [
    ("evaluate.backend=fais", "evaluate.backend must be one of exact, faiss; got 'fais'"),
    ("evaluate.alpha=1", "evaluate.alpha must be < 1, got 1.0"),
    ("distill.warmup_ratio=1.5", "distill.warmup_ratio must be at most 1, got 1.5"),
    ("distill.max_pairs=[100,0]", r"distill.max_pairs\[1\] must be at least 1, got 0"),
    ("evaluate.langs=[de,EN]", r"evaluate.langs\[1\] must be a lower-case language code"),
    ("evaluate.splits=[../x]", r"evaluate.splits\[0\] must be a name of letters"),
    ("device=gpu", "device must be auto, cpu, cuda or cuda:N"),
    ("calibrate.bounds=[oracle,fewshots]", r"calibrate.bounds\[1\] must be one of oracle, fewshot"),
    ("models.teacher.max_length=1", "models.teacher.max_length must be at least 2"),
])
def test_config_fields_are_checked_against_their_declared_param(override: str, message: str) -> None:
    """A field's choices, bounds and pattern are declared once (its ``setting``) and checked while reading."""
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_configs_built_in_code_are_checked_by_the_same_declarations() -> None:
    """``check_fields`` walks the sections: a config built in code fails as a YAML one would, nested lists too."""
    from clir_calib.config import DistillConfig, MethodConfig
    from clir_calib.config.reference import field_params
    from clir_calib.params import check_fields

    assert check_fields(ExperimentConfig(), "") is not None
    with pytest.raises(ConfigError, match=r"methods\[1\].queries must be one of teacher, student"):
        check_fields(ExperimentConfig(methods=[MethodConfig("none"), MethodConfig("x", queries="both")]), "")
    with pytest.raises(ConfigError, match=r"distill.losses\[0\].weight must be > 0"):
        check_fields(ExperimentConfig(distill=DistillConfig(losses=[LossSpec("ot", weight=0.0)])), "")
    declared = field_params(DistillConfig)
    assert declared["select"] is not None and declared["select"].choices == ("best", "last")
    assert declared["lr"] is not None and declared["lr"].rules() == "> 0"
