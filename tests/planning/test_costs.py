"""Cost terms on hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from planning import Goal

# a 4 cm square of goal points around the origin, and a far-away other point (the push task's
# shaping terms on the same square: tests/tasks/test_push_costs.py)
XYZ = torch.tensor([[-0.02, -0.02, 0.0], [0.02, -0.02, 0.0], [0.02, 0.02, 0.0], [-0.02, 0.02, 0.0], [1.0, 1.0, 0.0]])
MASK = torch.tensor([True, True, True, True, False])


def test_goal_cost_at_the_last_step_or_averaged_over_the_steps():
    """Two candidates that both bring the goal points the whole 10 cm by step 4: one moves
    them 2.5 cm a step from the start, the other waits 2 steps and moves 5 cm a step. At the
    last step both cost 0; averaged over steps 1-4 the early mover costs less:
    (7.5 + 5 + 2.5 + 0) / 4 = 3.75 cm against (10 + 10 + 5 + 0) / 4 = 6.25 cm. With the goal
    due by step 2, the average runs over steps 1-2 only."""
    from planning import PlannerConfig
    from planning.costs import goal_cost

    early = torch.tensor([0.025, 0.05, 0.075, 0.1])
    late = torch.tensor([0.0, 0.0, 0.05, 0.1])
    flow = torch.zeros(2, 4, len(XYZ), 3)
    flow[0, :, :4, 0] = early[:, None]
    flow[1, :, :4, 0] = late[:, None]
    goal = Goal(mask=MASK, displacement=(0.1, 0.0, 0.0)).resolve(XYZ, T=4)
    torch.testing.assert_close(goal_cost(XYZ, flow, goal), torch.zeros(2))
    torch.testing.assert_close(goal_cost(XYZ, flow, goal, "all"), torch.tensor([0.0375, 0.0625]))
    by2 = Goal(mask=MASK, displacement=(0.1, 0.0, 0.0), step=2).resolve(XYZ, T=4)
    torch.testing.assert_close(goal_cost(XYZ, flow, by2, "all"), torch.tensor([0.0625, 0.1]))
    assert PlannerConfig.from_yaml("closed_loop_progress").goal_steps == "all"
    with pytest.raises(ValueError, match="goal_steps"):
        PlannerConfig(goal_steps="first")
