"""The push task's shaping cost terms on hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from planning import Goal
from pointwm.tasks.push import approach_cost, reach_cost

# a 4 cm square of goal points around the origin, and a far-away other point
XYZ = torch.tensor([[-0.02, -0.02, 0.0], [0.02, -0.02, 0.0], [0.02, 0.02, 0.0], [-0.02, 0.02, 0.0], [1.0, 1.0, 0.0]])
MASK = torch.tensor([True, True, True, True, False])


def _robot_at(*points) -> torch.Tensor:
    """(K=len(points), T+1=2, M=1, 3): one robot point resting at each given position."""
    p = torch.tensor(points, dtype=torch.float32)
    return p[:, None, None, :].expand(-1, 2, 1, 3).clone()


def _still(k: int) -> torch.Tensor:
    return torch.zeros(k, 1, len(XYZ), 3)


def test_approach_is_zero_at_the_back_and_grows_on_the_front():
    goal = Goal(mask=MASK, displacement=(0.1, 0.0, 0.0)).resolve(XYZ, T=1)
    robot = _robot_at((-0.02, 0.0, 0.0), (0.02, 0.0, 0.0), (-0.05, 0.0, 0.0), (-0.02, 0.03, 0.0))
    cost = approach_cost(XYZ, _still(4), robot, goal)
    torch.testing.assert_close(cost, torch.tensor([0.0, 0.04, 0.03, 0.03]))
    # reach (to the centroid) cannot tell the back from the front
    r = reach_cost(XYZ, _still(2), robot[:2], goal)
    assert r[0] == pytest.approx(float(r[1]))


def test_approach_follows_the_predicted_motion_and_fades_near_the_goal():
    goal = Goal(mask=MASK, displacement=(0.0, 0.1, 0.0)).resolve(XYZ, T=1)
    flow = _still(1)
    flow[:, :, :4, 1] = 0.09  # predicted: the square moved 9 cm of the 10, 1 cm still to go
    robot = _robot_at((0.0, 0.07 - 0.02, 0.0))  # 2 cm behind the moved square's back edge (y = 0.07)
    # full cost 0.02 m, scaled by 1 cm / 2 cm still to go
    assert float(approach_cost(XYZ, flow, robot, goal)[0]) == pytest.approx(0.01, abs=1e-6)


def test_approach_to_a_target_box():
    goal = Goal(mask=MASK, target_box=(-0.3, -0.05, -0.1, -0.2, 0.05, 0.1)).resolve(XYZ, T=1)  # to the -x side
    cost = approach_cost(XYZ, _still(2), _robot_at((0.02, 0.0, 0.0), (-0.02, 0.0, 0.0)), goal)
    assert float(cost[0]) == pytest.approx(0.0, abs=1e-6) and float(cost[1]) == pytest.approx(0.04, abs=1e-6)
