"""The scripted repositioning move of a push task: round (or over) the object to its back.

MPPI's short random samples never find a way round an object, and no cost term asks for
one. :class:`RepositionMove` is a push primitive's scripted move that the closed loop may
switch on (``pointwm eval-plan --reposition``): an explicit policy component, the same for
every planner, computed from the capture by inverse kinematics. Off by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from kinematics.ik import arm_and_grippers, dls_ik, tool_link_index
from pointwm.errors import ConfigError
from pointwm.tasks.push import object_frame

__all__ = ["RepositionMove", "reposition_path", "tool_is_behind"]


def _tool_place(tool_xy, object_xyz: np.ndarray, way) -> tuple[float, float, float]:
    """Where the tool (xy, m) is relative to the object's visible points (P, 3) and the way
    (dx, dy[, dz]) m they must go: its offset (m) along the way from their centre
    (:func:`object_footprint`; negative: behind), its distance (m) from the line through the
    centre along the way, and the footprint's radius (m)."""
    c, _, r, u = object_frame(object_xyz, way)
    rel = np.asarray(tool_xy, dtype=np.float64)[:2] - c
    along = float(rel @ u)
    return along, float(np.linalg.norm(rel - along * u)), r


def tool_is_behind(tool_xy, object_xyz: np.ndarray, way) -> bool:
    """True when the tool (xy, m) is behind the object's visible points (P, 3) along the way
    (dx, dy[, dz]) m they must go: on the far side of their centre (:func:`object_footprint`)
    and within 40 % of the footprint's radius (at least 1 cm) of the line through it, where a
    push along the way meets the object near its centre line."""
    along, lateral, r = _tool_place(tool_xy, object_xyz, way)
    return along < 0 and lateral <= max(0.01, 0.4 * r)


def _resample(poly: np.ndarray, step: float, max_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A polyline's vertices (V, D) m as evenly spaced targets no more than ``step`` (m)
    apart, its start left out, at most ``max_steps`` of them: (arc length (V,) m of each
    vertex, arc length (n,) m of each target, the targets (n, D) m)."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(poly, axis=0), axis=1))])
    s = np.linspace(0.0, arc[-1], int(math.ceil(arc[-1] / step)) + 1)[1:max_steps + 1]
    return arc, s, np.stack([np.interp(s, arc, poly[:, k]) for k in range(poly.shape[1])], axis=1)


def reposition_path(robot, q: np.ndarray, object_xyz: np.ndarray, way, clearance: float = 0.04,
                    gap: float = 0.035, step: float = 0.015, max_steps: int = 10, dt: float = 0.1,
                    margin: float = 0.005, keep_off: float = 0.02, over: bool = False, lift: float = 0.03,
                    air_step: float = 0.03) -> np.ndarray | None:
    """(n, J) joint targets, n <= ``max_steps``, that take the tool round the object to its
    back from joint values ``q`` (J,) (rad, m), ``step`` (m) per target, at the tool's current
    orientation; ``way`` (dx, dy[, dz]) m is where the object must go.

    The object's centre and footprint are :func:`object_footprint`'s, from its visible points
    (P, 3). The path goes out to ``clearance`` (m) beyond the footprint's radius, along that
    circle the short way to the side opposite ``way``, then in to ``gap`` (m) behind the
    footprint on the line through the centre along ``way``, at half the object's height
    (2-4 cm, as tasks start). Where a robot surface point lower than ``margin`` (m) above the
    object's top comes within ``keep_off`` (m) of the footprint on the way round (the hand
    reaches 10 cm from the tool; the footprint misses a box's hidden corners), the circle is
    widened by 2 cm, up to three times. The last leg, in to the push pose, is not
    checked: there the hand reaches over the object as in any push from behind. Beyond
    ``max_steps`` the path is cut (the next round goes on). None where every circle
    touches, inverse kinematics misses a waypoint by over 5 mm, or a target would move a
    joint faster than its velocity limit allows in one plan step of ``dt`` seconds.

    ``over``: where every circle touches, go over the object instead, ``air_step`` (m) per
    target: straight up to ``lift`` (m) above its top, across to above the push pose (checked
    as the circles are: no low robot point near the footprint), and down into it. The way up
    is not checked (it moves away from an upright object), nor the way down (the last leg,
    as for the circles).
    """
    c, footprint, r, u = object_frame(object_xyz, way)
    top = float(np.max(np.asarray(object_xyz)[:, 2]))
    tree = cKDTree(footprint)
    back = float(((c - footprint) @ u).max())  # how far the footprint reaches behind the centre
    z_push = float(np.clip(0.5 * top, 0.02, 0.04))
    link = tool_link_index(robot)
    pose = robot.link_poses(torch.as_tensor(q[None], dtype=torch.float64), validate=False)[0, link].numpy()
    p0, R = pose[:3, 3], pose[:3, :3]
    rel = p0[:2] - c
    d0 = float(np.linalg.norm(rel))
    a0 = math.atan2(rel[1], rel[0])
    da = (math.atan2(-u[1], -u[0]) - a0 + math.pi) % (2 * math.pi) - math.pi  # the short way round
    arm, _ = arm_and_grippers(robot)
    bound = robot.velocity_limits.numpy() * dt
    base = robot.point_link == 0

    def closest(qs: np.ndarray) -> float:  # xy distance of the nearest low robot point to the footprint
        sp = robot.surface_points(torch.from_numpy(qs), validate=False)[:, ~base].numpy()  # (n, M', 3)
        low = sp[sp[..., 2] < top + margin][:, :2]
        return math.inf if len(low) == 0 else float(tree.query(low)[0].min())

    def solve(way_xy: np.ndarray, z: np.ndarray) -> np.ndarray | None:  # IK along the targets, in limits
        out, qk = [], np.asarray(q, dtype=np.float64).copy()
        for w, zk in zip(way_xy, z, strict=True):
            qn, err = dls_ik(robot, qk, np.array([w[0], w[1], zk]), R, arm, iters=30)
            if err > 0.005 or (np.abs(qn - qk) > bound).any():
                return None
            out.append(qn)
            qk = qn
        return np.stack(out)

    for widen in (0.0, 0.02, 0.04, 0.06):
        R_out = max(r + clearance + widen, d0)
        xy = [p0[:2]]
        if d0 < R_out:
            xy.append(c + R_out * np.array([math.cos(a0), math.sin(a0)]))
        n_arc = max(2, int(math.ceil(abs(da) * R_out / (0.25 * step))))
        xy += [c + R_out * np.array([math.cos(a0 + da * k / n_arc), math.sin(a0 + da * k / n_arc)])
               for k in range(1, n_arc + 1)]
        xy.append(c - u * (back + gap))
        arc, s, way_xy = _resample(np.array(xy), step, max_steps)
        if len(s) == 0:
            return None
        z = p0[2] + (z_push - p0[2]) * np.clip(s / max(arc[-2], 1e-9), 0.0, 1.0)  # to the push height on the way
        path = solve(way_xy, z)
        if path is None:
            return None
        circling = s <= arc[-2] + 1e-9  # the last leg, in to the push pose, is not checked
        if not circling.any() or closest(path[circling]) >= keep_off:
            return path
    if not over:
        return None
    z_air = max(p0[2], top + lift)
    push = np.array([*(c - u * (back + gap)), z_push])
    arc, s, pts = _resample(np.array([p0, [p0[0], p0[1], z_air], [push[0], push[1], z_air], push]), air_step, max_steps)
    path = None if len(s) == 0 else solve(pts[:, :2], pts[:, 2])
    if path is None:
        return None
    across = (s > arc[1] + 1e-9) & (s <= arc[2] + 1e-9)  # the way up and the way down are not checked
    return path if not across.any() or closest(path[across]) >= keep_off else None


@dataclass(frozen=True)
class RepositionMove:
    """A push primitive's repositioning move, an optional policy component of the closed
    loop (``pointwm eval-plan --reposition``): in a round where the tool is not behind the
    object, it takes the tool round the object to its back (:func:`reposition_path`) instead
    of planning. The same for every planner; it uses no model.

    clearance: how far (m) outside the object's footprint the way round goes. over: where
    every way round touches, go over the object (:func:`reposition_path`'s ``over``), except
    where the tool is in the object's shadow (on its far side from where it must go and
    within the footprint's radius of the line through its centre: a push from there still
    meets it, and the round may plan).
    """

    clearance: float = 0.04
    over: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.clearance, int | float) and 0 < self.clearance <= 0.2):
            raise ConfigError(f"RepositionMove.clearance: expected metres in (0, 0.2], got {self.clearance!r}")

    def __call__(self, robot, q: np.ndarray, object_xyz: np.ndarray, way, T: int, dt: float) -> np.ndarray | None:
        """The move for one round: :func:`reposition_path`'s (n, J) joint targets (n <= ``T``,
        steps of ``dt`` s) from joint values ``q`` (J,), where the tool is not behind the
        object's visible points (P, 3) m along ``way`` (dx, dy[, dz]) m
        (:func:`tool_is_behind`); None where it is behind, or where no path is found (the
        round plans). With ``over``, a tool 1.5 cm or more above the object's top counts as
        not behind (a move over it that a round cut short goes on down)."""
        tool = robot.link_poses(torch.from_numpy(q[None]), validate=False)[0, tool_link_index(robot), :3, 3].numpy()
        high = self.over and tool[2] >= float(np.max(np.asarray(object_xyz)[:, 2])) + 0.015
        if tool_is_behind(tool[:2], object_xyz, way) and not high:
            return None
        over = self.over
        if over and not high:
            along, lateral, r = _tool_place(tool[:2], object_xyz, way)
            over = not (along < 0 and lateral <= r)  # out of the object's shadow
        return reposition_path(robot, q, object_xyz, way, self.clearance, max_steps=T, dt=dt, over=over)
