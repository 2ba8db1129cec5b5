"""Evaluation: flow metrics (l2, l2_moved, l2_static per step) and baseline predictors."""

from pointwm.eval.baselines import nearest_robot_point_flow, zero_flow
from pointwm.eval.metrics import FlowMetrics

__all__ = ["FlowMetrics", "nearest_robot_point_flow", "zero_flow"]
