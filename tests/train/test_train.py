"""Training loop: exact resumption, checkpoints, config mismatches, schedule, config files."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from train_helpers import micro_model_config, micro_train_config

from pointwm.model import CheckpointError, WorldModel
from pointwm.train import (
    find_latest,
    list_checkpoints,
    load_state,
    load_train_config,
    lr_factor,
    train,
)
from pointwm.train.checkpoint import save_state


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return WorldModel.load(path).state_dict()


def test_resume_matches_uninterrupted_run(tiny_archive, tmp_path):
    cfg = micro_train_config(steps=6, checkpoint_every=3)
    full = train(cfg, tiny_archive, tmp_path / "full", progress=False)
    assert full.checkpoints == [3, 6] and len(full.losses) == 6

    # "Killed" after 4 steps (one past the checkpoint at 3, with a DataLoader worker this
    # time), then resumed: steps 4..6 must be redone exactly.
    part = train(cfg.with_overrides(num_workers=1), tiny_archive, tmp_path / "part", progress=False, stop_after=4)
    assert part.end_step == 4 and part.final is None
    assert find_latest(tmp_path / "part" / "checkpoints").step == 3
    rest = train(cfg, tiny_archive, tmp_path / "part", resume=True, progress=False)
    assert rest.start_step == 3 and rest.end_step == 6

    assert part.losses[:3] + rest.losses == full.losses  # step for step, bit for bit
    a, b = _weights(full.final), _weights(rest.final)
    assert all(torch.equal(a[k], b[k]) for k in a)
    state = load_state(find_latest(tmp_path / "part" / "checkpoints").state)
    assert state["step"] == 6 and state["data_position"] == 6 * cfg.batch_size
    # metrics.csv holds each logged step once (rows past the checkpoint were dropped on resume)
    steps = [int(line.split(",")[0]) for line in (tmp_path / "part" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == [2, 4, 6]


def test_flow_std_from_data_and_metrics_csv(tiny_archive, tmp_path):
    cfg = micro_train_config(steps=4, checkpoint_every=4, log_every=2)
    res = train(cfg, tiny_archive, tmp_path / "run", progress=False)
    assert all(math.isfinite(v) for v in res.losses)
    std = WorldModel.load(res.final).flow_std
    # the synthetic clips move 40 % of points linearly: std grows with the step, set from data
    assert not torch.allclose(std, torch.tensor(micro_model_config().resolved_flow_std))
    assert bool((std[1:] > std[:-1]).all())
    # the checkpoint records how the training robot's points were drawn (panda.yaml's)
    from kinematics import load_robot

    robot = load_robot("panda", num_points=cfg.num_robot_points)
    assert WorldModel.load(res.final).trained_robots == {"panda": robot.point_sampling}
    head, *rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert head.startswith("step,lr,loss,grad_norm,l2,l2_moved,l2_static,moved_fraction,l2_moved_t1")
    assert len(rows) == 2 and "clips_per_s,data_wait" in head
    # run.json names the data it was trained on, so a run can be reproduced
    import json

    from pointwm.data.archive import read_manifest

    run = json.loads((tmp_path / "run" / "run.json").read_text())
    m = read_manifest(tiny_archive)
    assert run["init"] is None and [d["root"] for d in run["data"]] == [str(m.root)]
    assert run["data"][0]["clips"] == m.num_clips and len(run["data"][0]["shards_sha256"]) == 64


def test_resume_with_another_model_config_is_a_clear_error(tiny_archive, tmp_path):
    cfg = micro_train_config(steps=2, checkpoint_every=2)
    train(cfg, tiny_archive, tmp_path / "run", progress=False)
    other = cfg.with_overrides(model=micro_model_config(channels=(8, 16)))
    with pytest.raises(CheckpointError, match="model config 'micro16x24'.*'micro8x16'"):
        train(other, tiny_archive, tmp_path / "run", resume=True, progress=False)
    with pytest.raises(CheckpointError, match="model config"):
        train(other, tiny_archive, tmp_path / "ft", init=tmp_path / "run" / "model.safetensors", progress=False)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(cfg, tiny_archive, tmp_path / "run", progress=False)


def test_init_adds_a_contact_branch_that_starts_at_zero(tiny_archive, tmp_path):
    from pointwm import PointCloud
    from pointwm.train.loop import _load_init

    cfg = micro_train_config(steps=2, checkpoint_every=2)
    base = train(cfg, tiny_archive, tmp_path / "run", progress=False).final
    grown = cfg.with_overrides(model=replace(cfg.model, name="micro_contact", contact_features=True), steps=2)
    start = _load_init(base, grown.model).eval()  # what train(init=...) starts from
    g = torch.Generator().manual_seed(0)
    scene = PointCloud(torch.rand(100, 3, generator=g) * 0.3)
    flow = torch.rand(cfg.model.num_steps + 1, 20, 3, generator=g) * 0.3
    assert torch.equal(start.predict(scene, flow), WorldModel.load(base).predict(scene, flow))
    res = train(grown, tiny_archive, tmp_path / "ft", init=base, progress=False)
    model = WorldModel.load(res.final)
    assert model.config.contact_features
    assert model.contact_embed.net[-1].weight.abs().sum() > 0  # the branch trained
    # the other way round (dropping the branch) is still an error
    with pytest.raises(CheckpointError, match="differing keys"):
        train(cfg, tiny_archive, tmp_path / "back", init=res.final, progress=False)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "step_00000001.state.pt"
    save_state(path, {"step": 1, "x": torch.ones(3)})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_state(path, {"step": 2, "x": torch.zeros(3)})
    monkeypatch.undo()
    assert load_state(path)["step"] == 1  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_incomplete_and_corrupt_checkpoints(tmp_path):
    ckpt = tmp_path / "checkpoints"
    model = WorldModel(micro_model_config())
    model.save(ckpt / "step_00000002.safetensors")
    save_state(ckpt / "step_00000002.state.pt", {"step": 2})
    model.save(ckpt / "step_00000004.safetensors")  # crashed before its state file: not a checkpoint
    assert [c.step for c in list_checkpoints(ckpt)] == [2]
    bad = ckpt / "step_00000006.state.pt"
    bad.write_bytes((ckpt / "step_00000002.state.pt").read_bytes()[:40])
    with pytest.raises(CheckpointError, match="step_00000006.state.pt: unreadable"):
        load_state(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"step": 1}, foreign)
    with pytest.raises(CheckpointError, match="format None"):
        load_state(foreign)


def test_lr_schedule():
    f = [lr_factor(s, 10, 100, 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:], strict=False))
    assert lr_factor(100, 10, 100, 0.1) == pytest.approx(0.1)


def test_train_config_files(tmp_path):
    from pointwm.paths import CONFIGS

    cfg = load_train_config(CONFIGS / "train" / "tiny_sim.yaml")
    assert cfg.model.name == "tiny" and cfg.loss.fixed_log_var == 0.0 and cfg.augment.max_points == 3000
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: model/tiny.yaml\nstepz: 3\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown train config keys \['stepz'\]"):
        load_train_config(bad)
    for name in ("tiny_sim_mix", "tiny_sim_contact", "tiny_sim_dense", "tiny_sim_grip", "tiny_sim_rock",
                 "tiny_sim_incontact", "tiny_sim_offset", "tiny_sim_tasks"):  # the later shipped stages
        later = load_train_config(CONFIGS / "train" / f"{name}.yaml")
        assert later.model.backbone == cfg.model.backbone
    assert load_train_config(CONFIGS / "train" / "tiny_sim_contact.yaml").model.contact_features
    bad.write_text("model: model/nope.yaml\n")
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_train_config(bad)
