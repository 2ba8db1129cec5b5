"""experiments/planner_variants.py (run with `.venv/bin/python -m pytest experiments/tests`): the push-line mean is a straight push along the line through
the object's centroid towards the target (checked on the tool path it gives), and none is
made where the tool is not behind the object."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def panda():
    from kinematics import load_robot

    return load_robot("panda")


def test_push_line_mean_pushes_along_the_centre_line(panda):
    from kinematics.ik import arm_and_grippers, dls_ik, down_rotation
    from kinematics.ik import tool_link_index as tool_link
    from planning import Goal
    from pointwm.geometry import PointCloud

    push_line_mean = runpy.run_path(str(REPO / "experiments/planner_variants.py"))["push_line_mean"]
    a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    obj = np.stack([0.5 + 0.03 * np.cos(a), 0.03 * np.sin(a), np.full_like(a, 0.03)], 1)
    scene = PointCloud(torch.from_numpy(obj).float())
    arm, grip = arm_and_grippers(panda)
    q0 = panda.default_q.numpy().copy()
    q0[grip] = panda.lower.numpy()[grip]
    q0, err = dls_ik(panda, q0, np.array([0.43, 0.015, 0.03]), down_rotation(np.pi / 2), arm, iters=80)
    assert err < 1e-3  # the tool 7 cm behind the centroid, 1.5 cm off the line
    q0 = torch.from_numpy(q0).float()
    goal = Goal(mask=torch.ones(len(obj), dtype=torch.bool), displacement=(0.1, 0.0, 0.0))
    mean = push_line_mean(panda, scene, q0, goal, T=10, speed=0.015)
    assert mean.shape == (10, panda.num_joints)
    tool = panda.link_poses(mean.double())[:, tool_link(panda), :3, 3].numpy()
    np.testing.assert_allclose(tool[2:, 1], 0.0, atol=2e-3)  # onto the line by step 3
    np.testing.assert_allclose(np.diff(tool[:, 0]), 0.015, atol=2e-3)  # along it at the speed
    np.testing.assert_allclose(tool[:, 2], 0.03, atol=2e-3)
    ahead = Goal(mask=goal.mask, displacement=(-0.1, 0.0, 0.0))  # the tool is in front: no push line
    assert push_line_mean(panda, scene, q0, ahead, T=10, speed=0.015) is None
