import math

import pytest
import torch

from pointwm.eval import FlowMetrics, nearest_robot_point_flow, zero_flow


def test_hand_computed_metrics():
    # T = 2 steps, N = 3 points; point 0 moves 1 cm in x at both steps, others static
    target = torch.zeros(2, 3, 3)
    target[:, 0, 0] = 0.01
    pred = torch.zeros(2, 3, 3)
    pred[0, 1, 1] = 0.002  # static point predicted to move 2 mm at step 1
    m = FlowMetrics()
    m.update(pred, target)
    per = m.per_step()
    assert per["l2_moved"] == pytest.approx([0.01, 0.01])
    assert per["l2_static"] == pytest.approx([0.001, 0.0])
    assert per["l2"] == pytest.approx([0.012 / 3, 0.01 / 3])
    s = m.summary()
    assert s["moved_fraction"] == pytest.approx(1 / 3)
    assert s["l2"] == pytest.approx(0.022 / 6)


def test_valid_mask_batches_and_merge():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 3, 10, 3, generator=g) * 0.01, torch.randn(4, 3, 10, 3, generator=g) * 0.01
    valid = torch.rand(4, 3, 10, generator=g) > 0.3
    whole = FlowMetrics()
    whole.update(pred, target, valid)
    parts = FlowMetrics()
    for i in range(4):
        other = FlowMetrics()
        other.update(pred[i], target[i], valid[i])
        parts.merge(other)
    for name, values in whole.per_step().items():
        assert values == pytest.approx(parts.per_step()[name], nan_ok=True)
    err = (pred - target).norm(dim=-1)
    assert whole.summary()["l2"] == pytest.approx(float(err[valid].mean()))


def test_errors_and_empty():
    m = FlowMetrics()
    with pytest.raises(ValueError, match="no clip added"):
        m.summary()
    with pytest.raises(ValueError, match=r"must both be \(..., T, N, 3\)"):
        m.update(torch.zeros(2, 3, 3), torch.zeros(2, 4, 3))
    m.update(torch.zeros(2, 1, 3), torch.zeros(2, 1, 3))
    assert math.isnan(m.per_step()["l2_moved"][0])
    with pytest.raises(ValueError, match="T = 3 but earlier clips had T = 2"):
        m.update(torch.zeros(3, 1, 3), torch.zeros(3, 1, 3))


def test_nearest_robot_point_baseline():
    robot = torch.zeros(3, 2, 3)  # T = 2, M = 2
    robot[:, 1, 0] = 1.0
    robot[1, 0] += torch.tensor([0.0, 0.01, 0.0])
    robot[2, 0] += torch.tensor([0.0, 0.02, 0.0])
    scene = torch.tensor([[0.01, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.02, 0.0]])
    flow = nearest_robot_point_flow(scene, robot, radius=0.03)
    torch.testing.assert_close(flow[:, 0], robot[1:, 0] - robot[:1, 0])  # follows robot point 0
    assert flow[1, 0, 1] == pytest.approx(0.02)
    assert flow[:, 1].abs().sum() == 0  # too far from the robot
    assert flow[:, 2].abs().sum() == 0  # near robot point 1, which does not move
    assert zero_flow(scene, robot).shape == (2, 3, 3)
