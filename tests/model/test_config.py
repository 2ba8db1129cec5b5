"""Model configs: the shipped sizes, their parameter counts, and ``pointwm model-info``."""

from __future__ import annotations

import argparse

import pytest

from pointwm.commands import model_info
from pointwm.model import ModelConfig, count_parameters
from pointwm.paths import CONFIGS

# PointWorld's reported sizes (REFERENCE.md); counted on the meta device, no memory used.
TARGETS = {"small": 51e6, "base": 411e6, "large": 985e6}


@pytest.mark.parametrize("name", ["small", "base", "large"])
def test_pointworld_sizes_match_parameter_counts(name):
    n = count_parameters(ModelConfig.from_yaml(CONFIGS / "model" / f"{name}.yaml"))
    assert abs(n - TARGETS[name]) / TARGETS[name] < 0.03, f"{name}: {n:,}"


def test_tiny_is_small():
    config = ModelConfig.from_yaml(CONFIGS / "model" / "tiny.yaml")
    assert config.num_steps == 10 and config.max_scene_points == 12000
    assert count_parameters(config) < 3e6


def test_config_round_trip_and_errors(tmp_path):
    config = ModelConfig.from_yaml(CONFIGS / "model" / "small.yaml")
    assert ModelConfig.from_dict(config.to_dict()) == config
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbackbone:\n  enc_depth: [1]\n")
    with pytest.raises(ValueError, match=r"bad.yaml.*backbone.enc_depth"):
        ModelConfig.from_yaml(bad)
    bad.write_text("name: x\nbackbone:\n  enc_depths: [1, 1]\n  enc_channels: [8, 8]\n  enc_num_heads: [1, 1]\n")
    with pytest.raises(ValueError, match="dec_depths must have 1 entries"):
        ModelConfig.from_yaml(bad)
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        ModelConfig.from_yaml(tmp_path / "nope.yaml")


def test_model_info_command(capsys):
    parser = argparse.ArgumentParser(prog="pointwm")
    model_info.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["model-info", "small"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "parameters: 50," in out and "(50.5 M)" in out
    args = parser.parse_args(["model-info", str(CONFIGS / "model" / "tiny.yaml")])
    assert args.func(args) == 0 and "model:      tiny" in capsys.readouterr().out
