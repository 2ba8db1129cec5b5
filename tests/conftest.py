"""Shared fixtures: small exact scenes rendered by ray casting."""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MUJOCO_GL", "egl")

from capture import Intrinsics  # noqa: E402
from capture.synthetic import render, table_scene  # noqa: E402
from pointwm.geometry import look_at  # noqa: E402

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"))]


@pytest.fixture(scope="session")
def small_intrinsics() -> Intrinsics:
    return Intrinsics.from_fov(160, 120, fov_y_deg=55.0)


@pytest.fixture(scope="session")
def table_frames(small_intrinsics):
    """Two cameras over the sample table scene: [(frame, segmentation, normals), ...]."""
    poses = {
        "front": look_at((1.15, 0.0, 0.65), (0.4, 0.0, 0.0)).numpy(),
        "side": look_at((0.45, -0.75, 0.55), (0.45, 0.0, 0.0)).numpy(),
    }
    return [render(table_scene(), small_intrinsics, T, name=n) for n, T in poses.items()]


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@functools.lru_cache(maxsize=2)
def _robot(name):
    from kinematics import load_robot

    return load_robot(name)


@pytest.fixture(scope="session")
def panda():
    """The Panda of configs/robots/panda.yaml (its points as the world model sees them)."""
    return _robot("panda")


@pytest.fixture(scope="session")
def bimanual():
    return _robot("bimanual_panda")
