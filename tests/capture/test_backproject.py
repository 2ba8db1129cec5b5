import numpy as np
import open3d as o3d
import pytest
import torch

from capture import CaptureError, Intrinsics, backproject
from pointwm.geometry import look_at, transform_points
from tests.conftest import DEVICES


def _random_depth(rng, h=48, w=64):
    depth = rng.uniform(0.3, 3.0, size=(h, w)).astype(np.float32)
    depth[rng.random((h, w)) < 0.1] = 0.0
    return depth


@pytest.mark.parametrize("with_pose", [False, True])
def test_matches_open3d(rng, with_pose):
    """Oracle: Open3D's create_from_rgbd_image on the same frame, to 1e-6 m."""
    h, w = 48, 64
    intr = Intrinsics(70.0, 72.0, 31.3, 24.1, w, h)
    depth = _random_depth(rng, h, w)
    color = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    T_world_cam = look_at((0.9, 0.3, 0.7), (0.3, 0.0, 0.0)).numpy() if with_pose else np.eye(4)

    rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
        o3d.geometry.Image(color), o3d.geometry.Image(depth),
        depth_scale=1.0, depth_trunc=10.0, convert_rgb_to_intensity=False,
    )
    o3d_intr = o3d.camera.PinholeCameraIntrinsic(w, h, intr.fx, intr.fy, intr.cx, intr.cy)
    ref = o3d.geometry.PointCloud.create_from_rgbd_image(rgbd, o3d_intr, np.linalg.inv(T_world_cam))
    ours = backproject(depth, intr, T_world_cam if with_pose else None, color)

    ref_xyz = np.asarray(ref.points)
    assert len(ours) == len(ref_xyz) == int((depth > 0).sum())
    np.testing.assert_allclose(ours.xyz.numpy(), ref_xyz, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours.color.numpy(), np.asarray(ref.colors), atol=1e-6)


def test_exact_geometry_of_a_rendered_table(table_frames):
    """Oracle: ray-cast scene. Pixels that hit the table top backproject to z = 0."""
    frame, seg, normals = table_frames[0]
    cloud = backproject(frame.depth, frame.intrinsics, frame.T_world_cam)
    seg_valid = seg[frame.depth.numpy() > 0]
    top = seg_valid == 0
    assert top.sum() > 1000
    assert np.abs(cloud.xyz.numpy()[top, 2]).max() < 2e-5


def test_camera_frame_projection_round_trip(rng):
    """Backprojected points project back to their own pixel centres (OpenCV convention)."""
    intr = Intrinsics(50.0, 55.0, 20.5, 14.0, 40, 30)
    depth = _random_depth(rng, 30, 40)
    cloud = backproject(depth, intr)
    p = cloud.xyz.double()
    u = intr.fx * p[:, 0] / p[:, 2] + intr.cx
    v = intr.fy * p[:, 1] / p[:, 2] + intr.cy
    vv, uu = np.nonzero(depth > 0)
    np.testing.assert_allclose(u.numpy(), uu, atol=1e-4)
    np.testing.assert_allclose(v.numpy(), vv, atol=1e-4)


def test_invalid_depth_dropped():
    intr = Intrinsics(10.0, 10.0, 1.5, 1.0, 4, 3)
    depth = torch.tensor([[0.0, float("nan"), float("inf"), -1.0],
                          [1.0, 2.0, 11.0, 0.5],
                          [3.0, 4.0, 5.0, 6.0]])
    cloud = backproject(depth, intr, max_depth=10.0)
    assert sorted(cloud.xyz[:, 2].tolist()) == [0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert len(backproject(depth, intr, max_depth=4.5)) == 5


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device_of_depth(device, rng):
    intr = Intrinsics(50.0, 50.0, 15.5, 11.5, 32, 24)
    depth = torch.from_numpy(_random_depth(rng, 24, 32)).to(device)
    T = look_at((1.0, 0.0, 1.0), (0.0, 0.0, 0.0)).to(device)
    cloud = backproject(depth, intr, T)
    assert cloud.device.type == device
    ref = transform_points(T.cpu(), backproject(depth.cpu(), intr).xyz.double()).float()
    torch.testing.assert_close(cloud.xyz.cpu(), ref, atol=1e-6, rtol=0)


def test_bad_input_is_named():
    intr = Intrinsics(10.0, 10.0, 2.0, 1.5, 4, 3)
    with pytest.raises(CaptureError, match="depth is 5x3 .* intrinsics are for 4x3"):
        backproject(np.ones((3, 5), np.float32), intr)
    with pytest.raises(CaptureError, match="depth: expected float depth in metres, got torch.int32"):
        backproject(np.ones((3, 4), np.uint16), intr)
    with pytest.raises(CaptureError, match=r"depth: expected an \(H, W\) depth image"):
        backproject(np.ones((3, 4, 1), np.float32), intr)
    with pytest.raises(ValueError, match="color and depth differ in size"):
        backproject(np.ones((3, 4), np.float32), intr, color=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(CaptureError, match="color: expected uint8 or float colours"):
        backproject(np.ones((3, 4), np.float32), intr, color=np.zeros((3, 4, 3), np.int64))
    with pytest.raises(ValueError, match=r"T_world_cam: expected a \(4, 4\)"):
        backproject(np.ones((3, 4), np.float32), intr, np.eye(3))
