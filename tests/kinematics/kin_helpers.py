"""Helpers for the kinematics tests: pybullet_data paths, random joint values, Pinocchio FK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from kinematics import RobotModel


def pybullet_urdf(rel: str) -> Path:
    pybullet_data = pytest.importorskip("pybullet_data", reason="pybullet (test-only) not installed")
    return Path(pybullet_data.getDataPath()) / rel


def random_q(model: RobotModel, n: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """(n, J) joint values drawn uniformly within the model's limits."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, model.num_joints, generator=g, dtype=torch.float64)
    return (model.lower + (model.upper - model.lower) * u).to(dtype)


def pinocchio_configuration(model: RobotModel, pm, qv: np.ndarray) -> np.ndarray:
    """Pinocchio's q for the action vector qv (J,): every movable URDF joint is its own
    coordinate (Pinocchio is built without mimic support), set from the action vector, the
    held defaults and the mimic rules."""
    pin = pytest.importorskip("pinocchio", reason="pin (test-only) not installed")
    desc = model.description
    by_name = {j.name: j for j in desc.joints}
    independent = [j.name for j in desc.joints if j.type != "fixed" and j.mimic is None]
    held_names = [n for n in independent if n not in model.joint_names]
    held = dict(zip(held_names, model._held.tolist(), strict=True))

    def value(name: str) -> float:
        j = by_name[name]
        if j.mimic is not None:
            return j.multiplier * value(j.mimic) + j.offset
        if name in model.joint_names:
            return float(qv[model.joint_names.index(name)])
        return held[name]

    qp = pin.neutral(pm)
    for jid in range(1, pm.njoints):
        jm = pm.joints[jid]
        v = value(pm.names[jid])
        if jm.nq == 2:  # continuous joint: (cos, sin)
            qp[jm.idx_q: jm.idx_q + 2] = [np.cos(v), np.sin(v)]
        else:
            qp[jm.idx_q] = v
    return qp


def pinocchio_link_poses(model: RobotModel, q: np.ndarray) -> np.ndarray:
    """(N, L, 4, 4) link poses from Pinocchio for q (N, J) float64, in model.link_names order."""
    pin = pytest.importorskip("pinocchio", reason="pin (test-only) not installed")
    pm = pin.buildModelFromUrdf(str(model.urdf_path))
    data = pm.createData()
    frame_ids = [pm.getFrameId(n, pin.BODY) for n in model.link_names]
    out = np.zeros((len(q), len(model.link_names), 4, 4))
    for k, qv in enumerate(q):
        pin.framesForwardKinematics(pm, data, pinocchio_configuration(model, pm, qv))
        for i, fid in enumerate(frame_ids):
            out[k, i] = data.oMf[fid].homogeneous
    return out


def pinocchio_tool_jacobian(model: RobotModel, q: np.ndarray) -> np.ndarray:
    """(N, 6E, J) LOCAL_WORLD_ALIGNED frame Jacobians of the tool links from Pinocchio, with
    the action joints' columns (mimic joints' columns folded into the joint they follow)."""
    pin = pytest.importorskip("pinocchio", reason="pin (test-only) not installed")
    pm = pin.buildModelFromUrdf(str(model.urdf_path))
    data = pm.createData()
    by_name = {j.name: j for j in model.description.joints}
    out = np.zeros((len(q), 6 * len(model.tool_link_names), model.num_joints))
    for k, qv in enumerate(q):
        qp = pinocchio_configuration(model, pm, qv)
        pin.computeJointJacobians(pm, data, qp)
        pin.framesForwardKinematics(pm, data, qp)
        for e, name in enumerate(model.tool_link_names):
            Jf = pin.getFrameJacobian(pm, data, pm.getFrameId(name, pin.BODY), pin.LOCAL_WORLD_ALIGNED)
            for jid in range(1, pm.njoints):
                j, mult = by_name[pm.names[jid]], 1.0
                while j.mimic is not None:
                    mult *= j.multiplier
                    j = by_name[j.mimic]
                if j.name in model.joint_names:
                    out[k, 6 * e: 6 * e + 6, model.joint_names.index(j.name)] += mult * Jf[:, pm.joints[jid].idx_v]
    return out


def write_urdf(folder: Path, body: str, name: str = "robot.urdf") -> Path:
    """Write ``<robot name="test">body</robot>`` to folder/name and return its path."""
    path = Path(folder) / name
    path.write_text(f'<?xml version="1.0"?>\n<robot name="test">\n{body}\n</robot>\n')
    return path


# A branching tree exercising every joint type, a mimic with multiplier and offset, a
# continuous joint, off-axis joint axes and primitive geometry.
MIXED_URDF = """
  <link name="base"><visual><geometry><box size="0.2 0.2 0.1"/></geometry></visual></link>
  <link name="a"><visual><origin xyz="0 0 0.1" rpy="0.1 0.2 0.3"/><geometry><cylinder radius="0.03" length="0.2"/></geometry></visual></link>
  <link name="b"><visual><geometry><sphere radius="0.04"/></geometry></visual></link>
  <link name="c"><visual><geometry><box size="0.05 0.02 0.1"/></geometry></visual></link>
  <link name="d"><visual><geometry><box size="0.02 0.05 0.1"/></geometry></visual></link>
  <link name="e"/>
  <joint name="j_rev" type="revolute"><parent link="base"/><child link="a"/>
    <origin xyz="0.1 0 0.05" rpy="0.3 -0.2 0.5"/><axis xyz="1 2 3"/>
    <limit lower="-2" upper="2" velocity="1" effort="1"/></joint>
  <joint name="j_cont" type="continuous"><parent link="a"/><child link="b"/>
    <origin xyz="0 0.05 0.2" rpy="0 0.4 0"/><axis xyz="0 1 0"/></joint>
  <joint name="j_pri" type="prismatic"><parent link="base"/><child link="c"/>
    <origin xyz="-0.1 0 0.05" rpy="0 0 1.0"/><axis xyz="0 0.6 0.8"/>
    <limit lower="-0.1" upper="0.2" velocity="0.5" effort="1"/></joint>
  <joint name="j_mimic" type="revolute"><parent link="c"/><child link="d"/>
    <origin xyz="0 0 0.1" rpy="0.2 0 0"/><axis xyz="0 0 1"/>
    <limit lower="-3" upper="3" velocity="1" effort="1"/>
    <mimic joint="j_rev" multiplier="-0.5" offset="0.1"/></joint>
  <joint name="j_fixed" type="fixed"><parent link="d"/><child link="e"/>
    <origin xyz="0.01 0.02 0.03" rpy="0.1 0.2 0.3"/></joint>
"""
