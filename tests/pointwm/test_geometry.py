import numpy as np
import pytest
import torch

from pointwm.geometry import PointCloud, invert_transform, look_at, transform_points


def test_look_at_is_an_opencv_camera():
    T = look_at((1.0, 0.0, 0.5), (0.0, 0.0, 0.5))
    R = T[:3, :3]
    torch.testing.assert_close(R @ R.T, torch.eye(4, dtype=T.dtype)[:3, :3])
    torch.testing.assert_close(torch.det(R), torch.tensor(1.0, dtype=T.dtype))
    # z (forward) points at the target, y (down) points to world -z
    torch.testing.assert_close(R[:, 2], torch.tensor([-1.0, 0.0, 0.0], dtype=T.dtype))
    torch.testing.assert_close(R[:, 1], torch.tensor([0.0, 0.0, -1.0], dtype=T.dtype))


def test_invert_and_transform(rng):
    T = look_at(rng.uniform(-1, 1, 3) + 3, rng.uniform(-1, 1, 3))
    p = torch.from_numpy(rng.normal(size=(10, 3)))
    torch.testing.assert_close(transform_points(invert_transform(T), transform_points(T, p)), p)
    torch.testing.assert_close(invert_transform(T), torch.linalg.inv(T))


def test_pointcloud_validation_and_ops():
    with pytest.raises(ValueError, match=r"PointCloud.xyz: expected shape \(N, 3\)"):
        PointCloud(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"PointCloud.color: expected shape \(4, 3\)"):
        PointCloud(torch.zeros(4, 3), torch.zeros(3, 3))
    with pytest.raises(TypeError, match="uint8"):
        PointCloud(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.uint8))
    a = PointCloud(torch.zeros(2, 3), torch.ones(2, 3))
    b = PointCloud(torch.ones(3, 3))
    assert len(PointCloud.cat([a, b])) == 5 and PointCloud.cat([a, b]).color is None
    moved = a.transform(np.diag([1.0, 1.0, 1.0, 1.0]) + np.eye(4, k=3) * 0)
    torch.testing.assert_close(moved.xyz, a.xyz)
    assert len(a.select(torch.tensor([True, False]))) == 1
