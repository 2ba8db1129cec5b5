"""Plain helpers for the training tests: a micro train config and a tiny synthetic archive."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pointwm.data.augment import AugmentConfig
from pointwm.data.clip import CameraView, Clip
from pointwm.model import BackboneConfig, ModelConfig
from pointwm.train import LossConfig, OptimConfig, TrainConfig

PANDA_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8)) + ("panda_finger_joint1",)
T = 4


def micro_model_config(channels: tuple[int, ...] = (16, 24)) -> ModelConfig:
    """A two-stage model: a training step on ~60 points takes tens of milliseconds."""
    s = len(channels)
    heads = tuple(max(1, c // 8) for c in channels)
    bb = BackboneConfig(enc_depths=(1,) * s, enc_channels=channels, enc_num_heads=heads,
                        dec_depths=(1,) * (s - 1), dec_channels=channels[:-1], dec_num_heads=heads[:-1],
                        patch_size=64, drop_path=0.1)
    return ModelConfig(name=f"micro{'x'.join(map(str, channels))}", num_steps=T, time_dim=8, backbone=bb)


def micro_train_config(**kw) -> TrainConfig:
    base = dict(
        name="micro", model=micro_model_config(), steps=6, batch_size=2, num_robot_points=32,
        norm_clips=4, num_workers=0, checkpoint_every=3, keep_checkpoints=5, log_every=2, threads=1,
        optim=OptimConfig(lr=1e-3, warmup_steps=2), loss=LossConfig(fixed_log_var=0.0),
        augment=AugmentConfig(max_points=48, drop_prob=0.5, drop_min_robot_dist=0.0),
    )
    base.update(kw)
    return TrainConfig(**base)


def make_clip(key: str, seed: int, n: int = 60) -> Clip:
    """A well-formed panda clip: points near the gripper's path move, the rest stay still."""
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([0.3, -0.2, 0.0], [0.6, 0.2, 0.15], (n, 3)).astype(np.float32)
    moving = rng.uniform(size=n) < 0.4
    step = rng.normal(0, 0.01, 3).astype(np.float32)
    points = np.repeat(xyz[None], T + 1, axis=0)
    points[:, moving] += np.arange(T + 1, dtype=np.float32)[:, None, None] * step
    normals = rng.normal(size=(n, 3))
    q = np.tile(np.array([0, -0.785, 0, -2.356, 0, 1.571, 0.785, 0.04], np.float32), (T + 1, 1))
    q[:, 0] += np.linspace(0, 0.2 * rng.uniform(-1, 1), T + 1, dtype=np.float32)
    K = np.array([[20.0, 0, 7.5], [0, 20.0, 5.5], [0, 0, 1]])
    T_wc = np.eye(4)
    T_wc[:3, 3] = (1.0, 0.0, 0.8)
    cam = CameraView("cam0", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8),
                     np.full((12, 16), 1.0, np.float32), K, T_wc)
    return Clip(
        key=key, robot="panda", joint_names=PANDA_JOINTS, q=q, gripper=np.ones(T + 1, np.float32),
        points=points, colors=rng.integers(0, 256, (n, 3), dtype=np.uint8),
        normals=(normals / np.linalg.norm(normals, axis=1, keepdims=True)).astype(np.float32),
        valid=np.ones(n, bool), visible=np.ones((T + 1, n), bool),
        point_camera=np.zeros(n, np.int16), segment=moving.astype(np.int16), cameras=(cam,), dt=0.1,
        provenance={"source": "tests/train", "seed": seed},
    ).check()


def make_archive(root: Path, clips: int = 8, per_shard: int = 3, seed: int = 0) -> Path:
    """``clips`` synthetic clips in shards of ``per_shard`` (the last one shorter)."""
    from pointwm.data.archive import write_archive

    write_archive(root, [make_clip(f"c{seed}_{i}", seed * 1000 + i) for i in range(clips)],
                  clips_per_shard=per_shard, config={"test": True})
    return root


def ddp_worker(rank: int, world: int, port: int, data: str, out: str, steps: int) -> None:
    """One process of a gloo run; writes its losses and final weights to out/rank{rank}.pt."""
    import torch

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from pointwm.train import train

    res = train(micro_train_config(steps=steps, checkpoint_every=steps), data, out, progress=False, device="cpu")
    state = {k: v.detach().clone() for k, v in res.model.state_dict().items()}
    torch.save({"losses": res.losses, "state": state}, Path(out) / f"rank{rank}.pt")
