"""The motion-weighted heteroscedastic Huber NLL."""

from __future__ import annotations

import math

import pytest
import torch

from pointwm.model import flow_loss, motion_weight


def test_motion_weight_is_a_sigmoid_at_5mm():
    target = torch.zeros(1, 3, 3)
    target[0, :, 0] = torch.tensor([0.0, 0.005, 0.02])
    w = motion_weight(target)
    torch.testing.assert_close(w[0], torch.tensor([torch.sigmoid(torch.tensor(-5.0)), 0.5, 1.0]), atol=1e-6, rtol=0)


def test_hand_computed_value():
    # One step, two points: one moved 2 cm (weight ~1), one static (weight ~0.0067 -> min 0).
    target = torch.tensor([[[0.02, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    std = torch.tensor([0.01])
    pred = torch.tensor([[[1.0, 0.5, 0.0], [0.3, 0.0, 0.0]]])  # normalised units
    log_var = torch.tensor([[math.log(2.0), 0.0]])
    # moving point: errors (1 - 2) = -1 -> huber 0.5; 0.5 -> 0.125; total 0.625
    nll_moving = 0.5 * (0.625 / 2.0 + math.log(2.0))
    nll_static = 0.5 * (0.5 * 0.3**2)
    w = motion_weight(target, min_weight=0.0)[0]
    expected = (w[0] * nll_moving + w[1] * nll_static) / w.sum()
    got = flow_loss(pred, log_var, target, std, min_weight=0.0)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    fixed = flow_loss(pred, None, target, std, fixed_log_var=0.0, min_weight=0.0)
    assert float(fixed) == pytest.approx(float((w[0] * 0.5 * 0.625 + w[1] * nll_static) / w.sum()), rel=1e-5)


def test_targets_are_clipped_and_errors_named():
    target = torch.tensor([[[2.0, 0.0, 0.0]]])
    std = torch.tensor([0.5])
    at_clip = flow_loss(torch.tensor([[[1.0, 0.0, 0.0]]]), None, target, std, fixed_log_var=0.0)
    assert float(at_clip) == 0.0  # 2 m clipped to 0.5 m = 1.0 normalised
    with pytest.raises(ValueError, match="flow_std"):
        flow_loss(torch.zeros(2, 4, 3), None, torch.zeros(2, 4, 3), torch.ones(3), fixed_log_var=0.0)
    with pytest.raises(ValueError, match="log_var or fixed_log_var"):
        flow_loss(torch.zeros(2, 4, 3), None, torch.zeros(2, 4, 3), torch.ones(2))


def test_near_robot_points_weigh_at_least_near_weight():
    # The hand-computed case above, with the static point marked as near the robot: its
    # weight becomes near_weight (0.5) while the moved point keeps its ~1; a point not near
    # keeps its motion weight, and near_weight 0 is the plain loss.
    target = torch.tensor([[[0.02, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    std = torch.tensor([0.01])
    pred = torch.tensor([[[1.0, 0.5, 0.0], [0.3, 0.0, 0.0]]])
    nll_moving, nll_static = 0.5 * 0.625, 0.5 * (0.5 * 0.3**2)
    w_moved = float(motion_weight(target, min_weight=0.01)[0, 0])
    near = torch.tensor([False, True])
    got = flow_loss(pred, None, target, std, fixed_log_var=0.0, near=near, near_weight=0.5)
    assert float(got) == pytest.approx((w_moved * nll_moving + 0.5 * nll_static) / (w_moved + 0.5), rel=1e-5)
    plain = flow_loss(pred, None, target, std, fixed_log_var=0.0)
    assert float(flow_loss(pred, None, target, std, fixed_log_var=0.0, near=near, near_weight=0.0)) == float(plain)
    assert float(flow_loss(pred, None, target, std, fixed_log_var=0.0, near=~near, near_weight=0.5)) == pytest.approx(
        float(plain), rel=1e-6)  # the moved point already weighs more than 0.5
    with pytest.raises(ValueError, match="near must be"):
        flow_loss(pred, None, target, std, fixed_log_var=0.0, near=torch.tensor([True]), near_weight=0.5)


def test_near_robot_marks_points_the_robot_passes():
    from pointwm.geometry import PointCloud
    from pointwm.model import RobotInput
    from pointwm.train.loop import near_robot

    xyz = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0]])
    # one robot point moving from x = 0.2 to x = 0.52 over 2 steps: within 3 cm of point 1
    # only at the last step, never within 3 cm of points 0 and 2
    flow = torch.tensor([[[0.2, 0.0, 0.0]], [[0.36, 0.0, 0.0]], [[0.52, 0.0, 0.0]]])
    near = near_robot([PointCloud(xyz), PointCloud(xyz[:1])], [RobotInput(flow), RobotInput(flow - torch.tensor([0.19, 0.0, 0.0]))], 0.03)
    assert near.tolist() == [False, True, False, True]
