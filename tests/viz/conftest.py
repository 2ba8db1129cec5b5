"""Fixtures for the visualisation tests: a small flow scene and its prediction bundle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The test modules import the plain helpers in viz_helpers.py directly.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from viz_helpers import make_scene  # noqa: E402


@pytest.fixture()
def scene():
    return make_scene()


@pytest.fixture()
def bundle(tmp_path, scene):
    """A prediction bundle of ``scene`` written with save_prediction."""
    from pointwm.viz import save_prediction

    return save_prediction(tmp_path / "pred.npz", scene.xyz, scene.robot_flow, scene.pred_flow,
                           gt_flow=scene.gt_flow, goal_idx=scene.goal_idx, goal_targets=scene.goal_targets,
                           meta={"cost": 0.5}, scene_color=scene.color)
