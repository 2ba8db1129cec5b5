"""Forward kinematics against Pinocchio, dtypes, batching, devices and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from kin_helpers import (
    MIXED_URDF,
    pinocchio_link_poses,
    pinocchio_tool_jacobian,
    random_q,
    write_urdf,
)

from kinematics import RobotModel, forward_kinematics

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"))]

ROBOTS = ["panda", "bimanual", "pb_panda", "pb_kuka"]


@pytest.mark.parametrize("robot", ROBOTS)
def test_fk_matches_pinocchio(robot, request):
    model: RobotModel = request.getfixturevalue(robot)
    q = random_q(model, 64, seed=1)
    ours = model.link_poses(q).numpy()
    ref = pinocchio_link_poses(model, q.numpy())
    assert ours.shape == (64, model.num_links, 4, 4)
    np.testing.assert_allclose(ours[..., :3, 3], ref[..., :3, 3], rtol=0, atol=1e-9)  # metres
    np.testing.assert_allclose(ours[..., :3, :3], ref[..., :3, :3], rtol=0, atol=1e-9)  # ~rad
    np.testing.assert_array_equal(ours[..., 3, :], ref[..., 3, :])


def test_fk_mixed_joint_types_match_pinocchio(tmp_path):
    model = RobotModel.from_urdf(write_urdf(tmp_path, MIXED_URDF), num_points=50)
    assert model.joint_names == ("j_rev", "j_cont", "j_pri")
    assert model.lower[1] == -np.pi and model.upper[1] == np.pi  # continuous joint
    q = random_q(model, 32, seed=2)
    q[:, 1] *= 3.0  # continuous joints may leave (-pi, pi)
    np.testing.assert_allclose(model.link_poses(q).numpy(), pinocchio_link_poses(model, q.numpy()),
                               rtol=0, atol=1e-9)


def test_held_joint_and_action_order(tmp_path, bimanual):
    # The waist joint is outside the action (held at its default); reordering the action works.
    assert "torso_joint" not in bimanual.joint_names and bimanual.num_joints == 16
    model = RobotModel.from_urdf(write_urdf(tmp_path, MIXED_URDF), num_points=20,
                                 joints=["j_pri", "j_rev"], default_q={"j_cont": 0.7})
    q = torch.tensor([[0.05, 0.3]], dtype=torch.float64)
    full = RobotModel.from_urdf(write_urdf(tmp_path, MIXED_URDF), num_points=20)
    ref = full.link_poses(torch.tensor([[0.3, 0.7, 0.05]], dtype=torch.float64))
    torch.testing.assert_close(model.link_poses(q), ref, rtol=0, atol=1e-12)


def test_batch_shapes_and_dtypes(panda):
    q64 = random_q(panda, 24, seed=3).reshape(2, 3, 4, panda.num_joints)
    T64 = panda.link_poses(q64)
    assert T64.shape == (2, 3, 4, panda.num_links, 4, 4) and T64.dtype == torch.float64
    T32 = panda.link_poses(q64.float())
    assert T32.dtype == torch.float32
    torch.testing.assert_close(T32.double(), T64, rtol=0, atol=1e-5)
    single = panda.link_poses(q64[1, 2, 3])
    torch.testing.assert_close(single, T64[1, 2, 3], rtol=0, atol=1e-15)
    assert panda.link_poses(torch.zeros(0, panda.num_joints)).shape == (0, panda.num_links, 4, 4)
    # numpy input works too
    assert panda.link_poses(q64[0, 0].numpy()).shape == (4, panda.num_links, 4, 4)


@pytest.mark.parametrize("device", DEVICES)
def test_devices(panda, device):
    q = random_q(panda, 5, seed=4)
    out = panda.surface_points(q.to(device))
    assert out.device.type == device
    torch.testing.assert_close(out.cpu(), panda.surface_points(q), rtol=0, atol=1e-12)


def test_pure_function_matches_model(panda):
    q = random_q(panda, 3, seed=5)
    tree = panda._tree  # float64 CPU; the panda has no held joints, so q_ext = q
    torch.testing.assert_close(forward_kinematics(tree, q), panda.link_poses(q))


def test_gradcheck_fk_and_points(tmp_path, panda):
    q = random_q(panda, 2, seed=6).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: panda.link_poses(x)[..., :3, :], (q,))
    assert torch.autograd.gradcheck(lambda x: panda.surface_points(x)[..., ::25, :], (q,))
    mixed = RobotModel.from_urdf(write_urdf(tmp_path, MIXED_URDF), num_points=10)
    qm = random_q(mixed, 2, seed=7).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: mixed.link_poses(x)[..., :3, :], (qm,))


def test_rotations_are_orthonormal(bimanual):
    T = bimanual.link_poses(random_q(bimanual, 16, seed=8))
    R = T[..., :3, :3]
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=R.dtype))


@pytest.mark.parametrize("robot", ["panda", "bimanual"])
def test_autograd_and_inference_paths_agree(robot, request):
    # With a q that requires grad, FK and points take the differentiable path (cat of
    # per-body GEMMs); without, GEMMs write into one buffer. Same values either way.
    model: RobotModel = request.getfixturevalue(robot)
    q = random_q(model, 6, seed=9).reshape(2, 3, -1)
    qg = q.clone().requires_grad_(True)
    torch.testing.assert_close(model.link_poses(qg).detach(), model.link_poses(q), rtol=0, atol=1e-14)
    for contiguous in (True, False):
        torch.testing.assert_close(model.surface_points(qg, contiguous=contiguous).detach(),
                                   model.surface_points(q, contiguous=contiguous), rtol=0, atol=1e-14)
    with torch.no_grad():
        torch.testing.assert_close(model.point_flow(qg), model.point_flow(q), rtol=0, atol=0)
    model.surface_points(qg).sum().backward()
    assert qg.grad is not None and torch.isfinite(qg.grad).all()


@pytest.mark.parametrize("robot", ["panda", "bimanual", "pb_kuka"])
def test_tool_jacobian_matches_pinocchio(robot, request):
    model = request.getfixturevalue(robot)
    q = random_q(model, 4, seed=5)
    ours = model.tool_jacobian(q)
    assert ours.shape == (4, 6 * len(model.tool_link_names), model.num_joints) and ours.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), pinocchio_tool_jacobian(model, q.numpy()), atol=1e-6)


def test_tool_links_default_and_errors(panda, bimanual, pb_kuka, pb_panda):
    assert panda.tool_link_names == ("panda_tcp",) and bimanual.tool_link_names == ("left_tcp", "right_tcp")
    # No *tcp link: the child link of the last non-gripper action joint.
    assert pb_kuka.tool_link_names == ("lbr_iiwa_link_7",)
    assert pb_panda.tool_link_names == ("panda_link7",)
    with pytest.raises(Exception, match="unknown link name 'nope' in tool_links"):
        RobotModel.from_urdf(panda.urdf_path, num_points=10, tool_links=["nope"])
