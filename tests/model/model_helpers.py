"""Plain helpers for the world-model tests: synthetic scenes, robot flows, small configs."""

from __future__ import annotations

import math

import torch

from pointwm import PointCloud
from pointwm.model import BackboneConfig, ModelConfig


def micro_config(num_steps: int = 4, drop_path: float = 0.0, patch_size: int = 64,
                 channels: tuple[int, ...] = (16, 24, 32), **kw) -> ModelConfig:
    """A three-stage model small enough for many CPU forward passes per test."""
    s = len(channels)
    heads = tuple(max(1, c // 8) for c in channels)
    bb = BackboneConfig(
        enc_depths=(1,) * s, enc_channels=channels, enc_num_heads=heads,
        dec_depths=(1,) * (s - 1), dec_channels=channels[:-1], dec_num_heads=heads[:-1],
        patch_size=patch_size, drop_path=drop_path,
    )
    return ModelConfig(name="micro", num_steps=num_steps, time_dim=8, backbone=bb, **kw)


def synthetic_scene(n: int = 300, seed: int = 0, dtype: torch.dtype = torch.float32) -> PointCloud:
    """A table top (z = 0) with a 6 cm box on it, N points with colour and normals."""
    g = torch.Generator().manual_seed(seed)
    n_box = n // 3
    table = torch.rand(n - n_box, 3, generator=g, dtype=torch.float64) * torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    box = torch.rand(n_box, 3, generator=g, dtype=torch.float64) * 0.06 + torch.tensor([0.22, 0.22, 0.0], dtype=torch.float64)
    xyz = torch.cat([table, box])
    color = torch.rand(n, 3, generator=g)
    normals = torch.zeros(n, 3)
    normals[:, 2] = 1.0
    return PointCloud(xyz.to(dtype), color, normals)


def sphere_flow(num_steps: int = 4, m: int = 32, start=(0.1, 0.25, 0.04), direction=(0.05, 0.0, 0.0),
                radius: float = 0.02, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A sphere of M surface points moving on a line: (flow (T+1, M, 3), normals (M, 3)).

    ``direction`` is the displacement per step (m).
    """
    i = torch.arange(m, dtype=torch.float64) + 0.5
    phi = torch.acos(1 - 2 * i / m)
    theta = math.pi * (1 + 5**0.5) * i
    normals = torch.stack([torch.cos(theta) * torch.sin(phi), torch.sin(theta) * torch.sin(phi), torch.cos(phi)], 1)
    pts = torch.tensor(start, dtype=torch.float64) + radius * normals
    steps = torch.arange(num_steps + 1, dtype=torch.float64)[:, None, None]
    flow = pts[None] + steps * torch.tensor(direction, dtype=torch.float64)
    return flow.to(dtype), normals.to(torch.float32)


def pushed_targets(scene: PointCloud, flow: torch.Tensor, reach: float = 0.05) -> torch.Tensor:
    """Toy ground truth (T, N, 3): points within ``reach`` of the sphere's path move with it."""
    centre = flow.mean(1)  # (T+1, 3)
    step = centre[1:] - centre[:1]  # (T, 3) displacement of the sphere from t0
    d = torch.cdist(scene.xyz.double(), centre.double()).min(1).values  # (N,)
    near = (d < reach).double()
    return (near[None, :, None] * step[:, None, :]).float()
