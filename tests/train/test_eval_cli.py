"""Evaluation report (model + both baselines) and the train / eval commands end to end."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import T, micro_model_config

from pointwm.eval import PREDICTORS, evaluate
from pointwm.model import WorldModel


def run_cli(argv: list[str]) -> int:
    """``pointwm ARGV`` with train and eval registered (until cli.COMMANDS lists them)."""
    import pointwm.cli as cli

    saved = cli.COMMANDS
    cli.COMMANDS = list(saved) + [n for n in ("train", "eval") if n not in saved]
    try:
        return cli.main(argv)
    finally:
        cli.COMMANDS = saved


def test_report_has_model_and_both_baselines(heldout_archive):
    torch.manual_seed(0)
    model = WorldModel(micro_model_config()).eval()
    report = evaluate(model, heldout_archive, num_robot_points=32, checkpoint="micro")
    assert report.clips == 3
    d = report.to_dict()
    assert list(d["predictors"]) == list(PREDICTORS) == ["model", "zero_flow", "nearest_robot_point"]
    for p in PREDICTORS:
        for m in ("l2", "l2_moved", "l2_static"):
            assert len(d["predictors"][p]["per_step"][m]) == T
    # zero flow's static error is exactly zero; its moved error is the mean true displacement
    assert d["predictors"]["zero_flow"]["mean"]["l2_static"] == 0.0
    assert d["predictors"]["zero_flow"]["mean"]["l2_moved"] > 0.005
    md = report.to_markdown()
    assert all(f"| {p}" in md or f" {p} |" in md for p in PREDICTORS) and "**l2_moved**" in md
    assert "nearest" in report.to_text()
    with pytest.raises(ValueError, match="max_clips"):
        evaluate(model, heldout_archive, max_clips=0)


def test_cli_train_resume_eval(tiny_archive, heldout_archive, tmp_path, capsys):
    cfg = tmp_path / "micro.yaml"
    bb = micro_model_config().backbone
    cfg.write_text(
        "name: micro\n"
        f"model: {{name: micro, num_steps: {T}, time_dim: 8, backbone: {{enc_depths: [1, 1], "
        f"enc_channels: {list(bb.enc_channels)}, enc_num_heads: {list(bb.enc_num_heads)}, dec_depths: [1], "
        f"dec_channels: {list(bb.dec_channels)}, dec_num_heads: {list(bb.dec_num_heads)}, patch_size: 64}}}}\n"
        "batch_size: 2\nnum_robot_points: 32\nnorm_clips: 4\nnum_workers: 0\ncheckpoint_every: 2\n"
        "log_every: 1\nthreads: 1\naugment: {max_points: 48}\n"
    )
    out = tmp_path / "run"
    assert run_cli(["train", "--config", str(cfg), "--data", str(tiny_archive), "--out", str(out),
                    "--steps", "2", "--no-progress"]) == 0
    assert run_cli(["train", "--config", str(cfg), "--data", str(tiny_archive), "--out", str(out),
                    "--steps", "3", "--resume", "--no-progress"]) == 0
    assert "steps 2..3" in capsys.readouterr().out
    report = tmp_path / "report.json"
    assert run_cli(["eval", "--checkpoint", str(out / "model.safetensors"), "--data", str(heldout_archive),
                    "--out", str(report), "--max-clips", "2", "--robot-points", "32", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "l2_moved:model" in printed and "l2_moved:zero" in printed and "l2_moved:nearest" in printed
    d = json.loads(report.read_text())
    assert d["clips"] == 2 and set(d["predictors"]) == {"model", "zero_flow", "nearest_robot_point"}
    assert report.with_suffix(".md").is_file()
    # bad input: one line on stderr, exit status 2
    assert run_cli(["eval", "--checkpoint", str(tmp_path / "missing.safetensors"),
                    "--data", str(heldout_archive)]) == 2
    assert "missing.safetensors: no such file" in capsys.readouterr().err


def test_shipped_checkpoint_loads():
    from pointwm.paths import ASSETS

    path = ASSETS / "checkpoints" / "tiny_sim.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} not shipped in this checkout")
    model = WorldModel.load(path)
    assert model.config.name == "tiny_contact" and model.config.contact_features
    assert path.stat().st_size < 10_000_000
    std = model.flow_std
    assert bool((std[1:] > std[:-1]).all())  # per-step statistics from the training data
    # it records the robot points it was trained with, and the shipped panda.yaml draws them so
    from kinematics import load_robot

    assert "panda" in model.trained_robots and model.check_robot(load_robot("panda")) is None
