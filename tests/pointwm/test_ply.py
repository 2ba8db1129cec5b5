import numpy as np
import open3d as o3d
import pytest
import torch

from pointwm.geometry import PointCloud
from pointwm.ply import read_ply, write_ply


def _cloud(rng, n=200):
    normals = rng.normal(size=(n, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return PointCloud(
        torch.from_numpy(rng.uniform(-1, 1, (n, 3)).astype(np.float32)),
        torch.from_numpy(rng.uniform(0, 1, (n, 3)).astype(np.float32)),
        torch.from_numpy(normals.astype(np.float32)),
    )


def test_open3d_reads_our_ply(tmp_path, rng):
    cloud = _cloud(rng)
    write_ply(tmp_path / "c.ply", cloud)
    ref = o3d.io.read_point_cloud(str(tmp_path / "c.ply"))
    np.testing.assert_allclose(np.asarray(ref.points), cloud.xyz.numpy(), atol=1e-7)
    np.testing.assert_allclose(np.asarray(ref.normals), cloud.normals.numpy(), atol=1e-7)
    np.testing.assert_allclose(np.asarray(ref.colors), cloud.color.numpy(), atol=0.5 / 255 + 1e-6)


def test_round_trip_with_attributes(tmp_path, rng):
    cloud = _cloud(rng)
    flow = rng.normal(size=len(cloud)).astype(np.float32)
    write_ply(tmp_path / "c.ply", cloud, {"flow_x": flow})
    back, extra = read_ply(tmp_path / "c.ply")
    torch.testing.assert_close(back.xyz, cloud.xyz)
    np.testing.assert_array_equal(extra["flow_x"], flow)


def test_reads_open3d_ascii_ply(tmp_path, rng):
    cloud = _cloud(rng, 20)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.xyz.numpy().astype(np.float64)))
    o3d.io.write_point_cloud(str(tmp_path / "a.ply"), pc, write_ascii=True)
    back, _ = read_ply(tmp_path / "a.ply")
    np.testing.assert_allclose(back.xyz.numpy(), cloud.xyz.numpy(), atol=1e-6)


def test_bad_files(tmp_path, rng):
    (tmp_path / "x.ply").write_text("hello")
    with pytest.raises(ValueError, match="not a PLY file"):
        read_ply(tmp_path / "x.ply")
    write_ply(tmp_path / "t.ply", _cloud(rng))
    data = (tmp_path / "t.ply").read_bytes()
    (tmp_path / "t.ply").write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated"):
        read_ply(tmp_path / "t.ply")
    with pytest.raises(ValueError, match=r"attribute 'f' must have shape \(200,\)"):
        write_ply(tmp_path / "y.ply", _cloud(rng), {"f": np.zeros(3)})
