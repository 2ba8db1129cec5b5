"""Submanifold sparse conv: hand-computed cases, dense-conv and brute-force oracles, grads."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pointwm import ops
from pointwm.ops import subm_conv


def brute_force(feat, coord, batch, weight, bias, reduce, ks):
    """O(N^2) oracle: out_i = bias + sum_j w_j feat_j @ W[offset(voxel_j - voxel_i)]."""
    r = ks // 2
    offs = ops.kernel_offsets(ks).tolist()
    n = feat.shape[0]
    count = {}
    for j in range(n):
        key = (int(batch[j]), *coord[j].tolist())
        count[key] = count.get(key, 0) + 1
    out = feat.new_zeros(n, weight.shape[2])
    for i in range(n):
        for j in range(n):
            d = (coord[j] - coord[i]).tolist()
            if batch[i] != batch[j] or max(abs(v) for v in d) > r:
                continue
            w = 1.0 / count[(int(batch[j]), *coord[j].tolist())] if reduce == "mean" else 1.0
            out[i] += w * feat[j] @ weight[offs.index(d)]
    return out if bias is None else out + bias


def test_hand_computed_with_duplicates(device):
    coord = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 0, 0]], device=device)
    feat = torch.tensor([[2.0], [3.0], [4.0]], device=device)
    weight = torch.arange(1.0, 28.0, device=device)[:, None, None]  # W[k] = k + 1
    rb = ops.subm_rulebook(coord)
    # centre k=13 -> 14; offset (+1,0,0): k=22 -> 23; offset (-1,0,0): k=4 -> 5.
    mean = ops.subm_conv3d(feat, rb, weight, reduce="mean")
    assert mean[:, 0].tolist() == [3 * 14 + 3 * 23, 3 * 14 + 3 * 5, 3 * 14 + 3 * 23]
    total = ops.subm_conv3d(feat, rb, weight, reduce="sum")
    assert total[:, 0].tolist() == [6 * 14 + 3 * 23, 3 * 14 + 6 * 5, 6 * 14 + 3 * 23]
    bias = torch.tensor([0.5], device=device)
    assert ops.subm_conv3d(feat, rb, weight, bias)[:, 0].tolist() == [111.5, 57.5, 111.5]


def test_rulebook_neighbors(device):
    coord = torch.tensor([[0, 0, 0], [1, 1, 1], [5, 5, 5], [0, 0, 0]], device=device)
    batch = torch.tensor([0, 0, 0, 1], device=device)
    rb = ops.subm_rulebook(coord, batch)
    assert rb.coord.tolist() == [[0, 0, 0], [1, 1, 1], [5, 5, 5], [0, 0, 0]]
    assert rb.neighbors.shape == (4, 27)
    assert rb.neighbors[:, 13].tolist() == [0, 1, 2, 3]  # centre: itself
    assert rb.neighbors[0, 26] == 1 and rb.neighbors[1, 0] == 0  # (+1,+1,+1) and back
    assert (rb.neighbors >= 0).sum().item() == 4 + 2  # no cross-batch neighbour
    assert rb.pair_counts[0] == 1 and rb.pair_counts[26] == 1 and sum(rb.pair_counts) == 2


@pytest.mark.parametrize("ks", [1, 3, 5])
def test_matches_dense_conv3d(ks, device):
    """One point per voxel: equal to a dense zero-padded conv3d read at the occupied sites."""
    gen = torch.Generator().manual_seed(11)
    cin, cout, side = 3, 4, 7
    cells = torch.randperm(side**3, generator=gen)[:120]
    coord = torch.stack([cells // (side * side), (cells // side) % side, cells % side], 1)
    feat = torch.randn(120, cin, generator=gen, dtype=torch.float64)
    weight = torch.randn(ks**3, cin, cout, generator=gen, dtype=torch.float64)
    bias = torch.randn(cout, generator=gen, dtype=torch.float64)
    dense = torch.zeros(1, cin, side, side, side, dtype=torch.float64)
    dense[0, :, coord[:, 0], coord[:, 1], coord[:, 2]] = feat.t()
    w_dense = weight.reshape(ks, ks, ks, cin, cout).permute(4, 3, 0, 1, 2)
    want = F.conv3d(dense, w_dense, bias, padding=ks // 2)[0, :, coord[:, 0], coord[:, 1],
                                                             coord[:, 2]].t()
    rb = ops.subm_rulebook(coord.to(device), kernel_size=ks)
    got = ops.subm_conv3d(feat.to(device), rb, weight.to(device), bias.to(device))
    torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_brute_force_with_duplicates_and_batches(reduce, device):
    gen = torch.Generator().manual_seed(12)
    n = 60
    coord = torch.randint(-2, 2, (n, 3), generator=gen)
    batch = torch.randint(0, 2, (n,), generator=gen)
    feat = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    weight = torch.randn(27, 2, 3, generator=gen, dtype=torch.float64)
    bias = torch.randn(3, generator=gen, dtype=torch.float64)
    want = brute_force(feat, coord, batch, weight, bias, reduce, 3)
    rb = ops.subm_rulebook(coord.to(device), batch.to(device))
    got = ops.subm_conv3d(feat.to(device), rb, weight.to(device), bias.to(device), reduce)
    torch.testing.assert_close(got.cpu(), want)
    # points sharing a voxel get identical outputs
    same = (coord[:, None] == coord[None]).all(-1) & (batch[:, None] == batch[None])
    i, j = same.nonzero(as_tuple=True)
    torch.testing.assert_close(got.cpu()[i], got.cpu()[j])


def test_gradcheck(device):
    gen = torch.Generator().manual_seed(13)
    coord = torch.randint(0, 3, (15, 3), generator=gen).to(device)
    rb = ops.subm_rulebook(coord)
    feat = torch.randn(15, 2, generator=gen, dtype=torch.float64).to(device).requires_grad_()
    weight = torch.randn(27, 2, 2, generator=gen, dtype=torch.float64).to(device).requires_grad_()
    bias = torch.randn(2, generator=gen, dtype=torch.float64).to(device).requires_grad_()
    for reduce in ("mean", "sum"):
        assert torch.autograd.gradcheck(
            lambda f, w, b, r=reduce: ops.subm_conv3d(f, rb, w, b, r), (feat, weight, bias)
        )


def test_module(device):
    torch.manual_seed(0)
    conv = ops.SubMConv3d(4, 8).to(device)
    assert conv.weight.shape == (27, 4, 8) and conv.bias.shape == (8,)
    coord = torch.randint(0, 5, (50, 3), device=device)
    feat = torch.randn(50, 4, device=device)
    out = conv(feat, coord)
    assert out.shape == (50, 8)
    rb = ops.subm_rulebook(coord)
    torch.testing.assert_close(conv(feat, rulebook=rb), out)
    out.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    assert "kernel_size=3" in repr(conv)
    with pytest.raises(ValueError, match="rulebook built for kernel_size 5"):
        conv(feat, rulebook=ops.subm_rulebook(coord, kernel_size=5))
    with pytest.raises(ValueError, match="pass grid_coord"):
        conv(feat)


def test_empty(device):
    rb = ops.subm_rulebook(torch.zeros(0, 3, dtype=torch.long, device=device))
    out = ops.subm_conv3d(torch.zeros(0, 4, device=device), rb, torch.zeros(27, 4, 5, device=device))
    assert out.shape == (0, 5)


def test_errors():
    rb = ops.subm_rulebook(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="feat has 3 rows but the rulebook 4 points"):
        ops.subm_conv3d(torch.zeros(3, 2), rb, torch.zeros(27, 2, 2))
    with pytest.raises(ValueError, match=r"weight must be \(K=27, C_in=2, C_out\)"):
        ops.subm_conv3d(torch.zeros(4, 2), rb, torch.zeros(9, 2, 2))
    with pytest.raises(ValueError, match="odd integer"):
        ops.subm_rulebook(torch.zeros(4, 3, dtype=torch.long), kernel_size=2)
    with pytest.raises(ValueError, match="reduce must be"):
        ops.SubMConv3d(2, 2, reduce="max")


def test_host_neighbor_map_matches_reference(host_backend):
    gen = torch.Generator().manual_seed(14)
    coord = torch.randint(-4, 5, (700, 3), generator=gen)
    batch = torch.randint(0, 3, (700,), generator=gen)
    for ks in (3, 5):
        ukey, _, _, layout = ops.voxel.unique_keys(coord, batch, pad=ks // 2)
        delta = subm_conv._key_deltas(layout, ks, coord.device)
        got = subm_conv._neighbor_map_kernel(host_backend, ukey, delta)
        assert torch.equal(got, subm_conv.neighbor_map_reference(ukey, delta))
