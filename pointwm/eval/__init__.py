"""Evaluation: flow metrics (l2, l2_moved, l2_static per step), baselines, archive evaluation."""

from pointwm.eval.baselines import nearest_robot_point_flow, zero_flow
from pointwm.eval.evaluate import PREDICTORS, EvalReport, evaluate
from pointwm.eval.metrics import FlowMetrics

__all__ = ["PREDICTORS", "EvalReport", "FlowMetrics", "evaluate", "nearest_robot_point_flow", "zero_flow"]
