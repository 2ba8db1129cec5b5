"""Voxelisation helpers: hand-computed cases, batching, errors, host kernels vs reference."""

from __future__ import annotations

import pytest
import torch

from pointwm import ops
from pointwm.ops import voxel


def test_grid_coords_hand_computed(device):
    xyz = torch.tensor([[0.0, 0.1, -0.1], [0.149, 0.151, -0.0001], [1.0, -1.0, 0.3]], device=device)
    got = ops.grid_coords(xyz, 0.15)
    assert got.tolist() == [[0, 0, -1], [0, 1, -1], [6, -7, 2]]
    assert got.dtype == torch.long
    origin = torch.tensor([0.05, 0.0, 0.0], device=device)
    assert ops.grid_coords(xyz, 0.15, origin=origin)[:, 0].tolist() == [-1, 0, 6]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_grid_coords_random_matches_reference(dtype, device):
    gen = torch.Generator().manual_seed(8)
    xyz = ((torch.rand(5000, 3, generator=gen) - 0.5) * 4).to(dtype).to(device)
    origin = torch.tensor([0.013, -0.7, 0.25], dtype=dtype)
    got = ops.grid_coords(xyz, 0.015, origin=origin.to(device))
    want = voxel._grid_coords_reference(xyz.cpu(), 0.015, origin)
    assert torch.equal(got.cpu(), want)


def test_grid_coords_errors():
    with pytest.raises(ValueError, match="voxel_size must be > 0"):
        ops.grid_coords(torch.zeros(2, 3), 0.0)
    with pytest.raises(ValueError, match=r"xyz must be an \(N, 3\) tensor"):
        ops.grid_coords(torch.zeros(2, 2), 0.1)
    with pytest.raises(ValueError, match="NaN or infinite"):
        ops.grid_coords(torch.tensor([[0.0, float("nan"), 0.0]]), 0.1)
    with pytest.raises(TypeError, match="floating point"):
        ops.grid_coords(torch.zeros(2, 3, dtype=torch.long), 0.1)
    assert ops.grid_coords(torch.zeros(0, 3), 0.1).shape == (0, 3)


def test_voxel_unique_hand_computed(device):
    coord = torch.tensor([[1, 0, 0], [0, 5, -3], [1, 0, 0], [0, 5, -3], [0, 5, -2], [1, 0, 0]],
                         device=device)
    batch = torch.tensor([0, 0, 0, 1, 0, 0], device=device)
    g = ops.voxel_unique(coord, batch)
    # sorted by (batch, x, y, z)
    assert g.coord.tolist() == [[0, 5, -3], [0, 5, -2], [1, 0, 0], [0, 5, -3]]
    assert g.batch.tolist() == [0, 0, 0, 1]
    assert g.inverse.tolist() == [2, 0, 2, 3, 1, 2]
    assert g.counts.tolist() == [1, 1, 3, 1]
    assert torch.equal(g.coord[g.inverse], coord)


def test_voxel_unique_unbatched_single_voxel(device):
    g = ops.voxel_unique(torch.full((4, 3), -7, device=device))
    assert g.coord.tolist() == [[-7, -7, -7]] and g.counts.tolist() == [4]
    assert g.batch.tolist() == [0] and g.inverse.tolist() == [0, 0, 0, 0]


def test_voxel_unique_many_batches_and_wide_grid(device):
    """More than 8 batch entries and a 2**20-wide axis (the old fixed layout overflowed)."""
    gen = torch.Generator().manual_seed(9)
    coord = torch.randint(0, 100, (3000, 3), generator=gen)
    coord[:, 0] = torch.randint(-(1 << 19), 1 << 19, (3000,), generator=gen)
    coord[:1500] = coord[1500:]  # duplicates
    batch = torch.randint(0, 40, (3000,), generator=gen)
    g = ops.voxel_unique(coord.to(device), batch.to(device))
    assert torch.equal(g.coord[g.inverse].cpu(), coord)
    assert torch.equal(g.batch[g.inverse].cpu(), batch)
    keys = torch.stack([g.batch, g.coord[:, 0], g.coord[:, 1], g.coord[:, 2]], 1).cpu().tolist()
    assert keys == sorted(keys) and len(set(map(tuple, keys))) == len(keys)
    assert int(g.counts.sum()) == 3000


def test_voxel_unique_empty(device):
    g = ops.voxel_unique(torch.zeros(0, 3, dtype=torch.long, device=device))
    assert g.coord.shape == (0, 3) and g.inverse.shape == (0,) and g.counts.shape == (0,)


def test_voxel_unique_errors():
    with pytest.raises(ValueError, match=r"grid_coord must be an \(N, 3\)"):
        ops.voxel_unique(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        ops.voxel_unique(torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"batch must be \(3,\)"):
        ops.voxel_unique(torch.zeros(3, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="batch indices must be >= 0"):
        ops.voxel_unique(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, -1]))
    with pytest.raises(ValueError, match="does not fit a 63-bit voxel key"):
        ops.voxel_unique(torch.tensor([[0, 0, 0], [1 << 22, 1 << 22, 1 << 22]]))


def test_host_kernels_match_reference(host_backend):
    gen = torch.Generator().manual_seed(10)
    for dtype in (torch.float32, torch.float64):
        xyz = ((torch.rand(2000, 3, generator=gen) - 0.5) * 3).to(dtype)
        origin = torch.tensor([0.3, 0.0, -0.01], dtype=dtype)
        coord = voxel._grid_coords_kernel(host_backend, xyz, 0.02, origin)
        assert torch.equal(coord, voxel._grid_coords_reference(xyz, 0.02, origin))
    batch = torch.randint(0, 5, (2000,), generator=gen)
    layout = voxel.key_layout(coord, batch, pad=2)
    key = voxel._pack_kernel(host_backend, coord, batch, layout)
    assert torch.equal(key, voxel._pack_reference(coord, batch, layout))
    c2, b2 = voxel._unpack_kernel(host_backend, key, layout)
    assert torch.equal(c2, coord) and torch.equal(b2, batch)


def test_voxel_pool(device):
    xyz = torch.tensor([[0.01, 0.0, 0.0], [0.03, 0.0, 0.0], [0.5, 0.5, 0.5]], device=device)
    g = ops.voxel_unique(ops.grid_coords(xyz, 0.1))
    pooled = ops.voxel_pool(xyz, g)
    torch.testing.assert_close(pooled, torch.tensor([[0.02, 0, 0], [0.5, 0.5, 0.5]], device=device))
    torch.testing.assert_close(ops.voxel_pool(xyz, g, "max")[:, 0],
                               torch.tensor([0.03, 0.5], device=device))


@pytest.mark.parametrize("n, span", [(1, 1), (50, 4), (5000, 40), (3000, 2000)])
def test_dense_and_sorted_unique_agree(n, span):
    from pointwm.ops.voxel import unique_sorted

    gen = torch.Generator().manual_seed(n)
    key = torch.randint(0, span, (n,), generator=gen)
    ref = torch.unique(key, sorted=True, return_inverse=True, return_counts=True)
    for dense in (True, False, None):
        got = unique_sorted(key, span, dense=dense)
        for a, b in zip(got, ref, strict=True):
            assert torch.equal(a, b)
