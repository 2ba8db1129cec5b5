"""Submanifold sparse 3D convolution over voxel grid coordinates (points may share voxels).

Three faces: :func:`neighbor_map_reference` (PyTorch ``searchsorted``; CPU path and test
oracle for the neighbour map), ``cuda/subm_conv.cu`` (the same binary search as a
kernel), and the public :func:`subm_rulebook`, :func:`subm_conv3d` and
:class:`SubMConv3d`. The arithmetic is gather → per-offset matmul → scatter-add in torch
(cuBLAS/MKL GEMMs; no hand-written GEMM would beat them), so autograd comes from torch.

Several points in one voxel (PointWorld hands duplicates to spconv, which does not support
them; here it is defined): the points of a voxel are first pooled into one voxel feature
(``reduce`` = "mean", the default, or "sum"), the convolution runs on the V occupied
voxels, and every point receives its voxel's output. So all points of a voxel see the
same neighbour set, each contributes (with weight 1/count for "mean", 1 for "sum"), and
points sharing a voxel get identical outputs. With one point per voxel this is exactly a
submanifold convolution (= a dense ``conv3d`` with zero padding, read at occupied sites).
Points of different batch entries never interact.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from pointwm.errors import InputError
from pointwm.ops import _backend
from pointwm.ops._backend import Backend
from pointwm.ops.scatter import scatter
from pointwm.ops.voxel import KeyLayout, check_grid_input, unique_keys, unpack_keys

__all__ = ["Rulebook", "SubMConv3d", "kernel_offsets", "subm_conv3d", "subm_rulebook"]


class Rulebook(NamedTuple):
    """Neighbourhood structure shared by every subm conv over the same points.

    coord:     (V, 3) int64 occupied voxels, sorted by (batch, x, y, z).
    batch:     (V,) int64 batch index of each voxel.
    inverse:   (N,) int64 voxel of each point.
    counts:    (V,) int64 points per voxel.
    neighbors: (V, K) int64, ``neighbors[v, k]`` = voxel at ``coord[v] + offsets[k]`` in
               the same batch entry, or -1 if empty. K = kernel_size ** 3.
    pairs_out, pairs_in: (P,) int64 the (output voxel, input voxel) pairs of the
               non-centre offsets, grouped by offset; ``pair_counts[k]`` pairs for offset k.
    kernel_size: edge length of the cubic kernel (odd).
    """

    coord: Tensor
    batch: Tensor
    inverse: Tensor
    counts: Tensor
    neighbors: Tensor
    pairs_out: Tensor
    pairs_in: Tensor
    pair_counts: tuple[int, ...]
    kernel_size: int


def kernel_offsets(kernel_size: int = 3, device: torch.device | None = None) -> Tensor:
    """(K, 3) int64 voxel offsets (dx, dy, dz) in weight order: dz fastest, each in [-r, r]."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise InputError(f"kernel_size must be an odd integer >= 1, got {kernel_size}")
    r = kernel_size // 2
    offs = list(itertools.product(range(-r, r + 1), repeat=3))
    return torch.tensor(offs, dtype=torch.long, device=device)


def _key_deltas(layout: KeyLayout, kernel_size: int, device: torch.device) -> Tensor:
    off = kernel_offsets(kernel_size, device)
    return (off[:, 0] << layout.shift_x) + (off[:, 1] << layout.shift_y) + off[:, 2]


def neighbor_map_reference(ukey: Tensor, delta: Tensor) -> Tensor:
    """(V, K) index into sorted unique ``ukey`` (V,) of ``ukey[v] + delta[k]``, or -1."""
    target = ukey[:, None] + delta[None, :]
    pos = torch.searchsorted(ukey, target).clamp(max=max(ukey.shape[0] - 1, 0))
    return torch.where(ukey[pos] == target, pos, -1)


def _neighbor_map_kernel(backend: Backend, ukey: Tensor, delta: Tensor) -> Tensor:
    v, k = ukey.shape[0], delta.shape[0]
    nbr = torch.empty((v, k), dtype=torch.long, device=ukey.device)
    backend.launch("subm_conv", "subm_neighbor_map_i64", v * k, ukey, delta, nbr, v, k)
    return nbr


def subm_rulebook(
    grid_coord: Tensor, batch: Tensor | None = None, kernel_size: int = 3
) -> Rulebook:
    """Build the neighbour map of ``grid_coord`` (N, 3) int voxel coordinates.

    ``batch`` (N,) int >= 0 (default all 0). The map comes from sorting packed voxel keys
    (``torch.unique``) and binary-searching each neighbour key (kernel on CUDA). Reuse
    the result for every conv over the same points. One device sync (pair counts).
    """
    kernel_offsets(kernel_size)  # validates kernel_size
    coord, batch = check_grid_input(grid_coord, batch, "subm_rulebook")
    device = coord.device
    k = kernel_size**3
    if coord.shape[0] == 0:
        e = torch.zeros(0, dtype=torch.long, device=device)
        return Rulebook(coord.reshape(0, 3), e, e, e, e.reshape(0, k), e, e, (0,) * k, kernel_size)
    ukey, inverse, counts, layout = unique_keys(coord, batch, pad=kernel_size // 2)
    vcoord, vbatch = unpack_keys(ukey, layout)
    delta = _key_deltas(layout, kernel_size, device)
    backend = _backend.kernel_backend("subm_conv", device)
    if backend is None:
        nbr = neighbor_map_reference(ukey, delta)
    else:
        nbr = _neighbor_map_kernel(backend, ukey.contiguous(), delta)
    center = k // 2
    mask = nbr >= 0
    mask[:, center] = False  # the centre offset is the identity, handled without pairs
    pair_counts = tuple(int(c) for c in mask.sum(0).tolist())
    kk, vv = mask.t().nonzero(as_tuple=True)  # grouped by offset, then by output voxel
    pairs_in = nbr[vv, kk]
    return Rulebook(vcoord, vbatch, inverse, counts, nbr, vv, pairs_in, pair_counts, kernel_size)


def subm_conv3d(
    feat: Tensor,
    rulebook: Rulebook,
    weight: Tensor,
    bias: Tensor | None = None,
    reduce: Literal["mean", "sum"] = "mean",
) -> Tensor:
    """Submanifold sparse convolution of per-point ``feat`` (N, C_in): (N, C_out).

    Args:
        feat: (N, C_in) float point features, rows in the order of the rulebook's points.
        rulebook: from :func:`subm_rulebook` over the same N points.
        weight: (K, C_in, C_out), K = kernel_size ** 3 in :func:`kernel_offsets` order.
        bias: (C_out,) or None.
        reduce: how points sharing a voxel are pooled first, "mean" or "sum".

    ``out[i] = bias + sum_k pooled[voxel(i) + offset_k] @ weight[k]`` over occupied
    neighbours; see the module docstring for duplicates. Differentiable in feat, weight
    and bias. On CUDA the backward's index_add uses atomics (not bitwise deterministic).
    """
    if not isinstance(feat, Tensor) or feat.ndim != 2:
        raise InputError(f"subm_conv3d: feat must be (N, C_in), got {getattr(feat, 'shape', feat)}")
    n = rulebook.inverse.shape[0]
    k = rulebook.kernel_size**3
    if feat.shape[0] != n:
        raise InputError(f"subm_conv3d: feat has {feat.shape[0]} rows but the rulebook {n} points")
    if weight.ndim != 3 or weight.shape[0] != k or weight.shape[1] != feat.shape[1]:
        raise InputError(
            f"subm_conv3d: weight must be (K={k}, C_in={feat.shape[1]}, C_out), got "
            f"{tuple(weight.shape)}"
        )
    if bias is not None and bias.shape != (weight.shape[2],):
        raise InputError(f"subm_conv3d: bias must be ({weight.shape[2]},), got {tuple(bias.shape)}")
    if reduce not in ("mean", "sum"):
        raise InputError(f"subm_conv3d: reduce must be 'mean' or 'sum', got {reduce!r}")
    if feat.device != rulebook.inverse.device or weight.device != feat.device:
        raise InputError(
            f"subm_conv3d: feat on {feat.device}, weight on {weight.device}, rulebook on "
            f"{rulebook.inverse.device}: all must share one device"
        )
    v = rulebook.coord.shape[0]
    pooled = scatter(feat, rulebook.inverse, v, reduce)  # (V, C_in)
    out = pooled @ weight[k // 2]  # centre offset: every voxel is its own neighbour
    start = 0
    for kk, count in enumerate(rulebook.pair_counts):
        if count == 0:
            continue
        o = rulebook.pairs_out[start : start + count]
        i = rulebook.pairs_in[start : start + count]
        start += count
        # In place: out is matmul output, which autograd does not need for its backward.
        out.index_add_(0, o, pooled.index_select(0, i) @ weight[kk])  # (count, C_out)
    out = out.index_select(0, rulebook.inverse)  # (N, C_out)
    return out if bias is None else out + bias


class SubMConv3d(nn.Module):
    """Submanifold sparse 3D convolution over voxel grid coordinates, as a module.

    ``SubMConv3d(in_channels, out_channels, kernel_size=3)``;
    ``forward(feat (N, C_in), grid_coord (N, 3) int = None, batch (N,) = None,
    rulebook = None) -> (N, C_out)``. Pass either ``grid_coord`` (and ``batch``) or a
    prebuilt ``rulebook`` (share one across layers). Weight (K, C_in, C_out), bias
    (C_out,), initialised like ``nn.Conv3d`` (uniform in ±1/sqrt(C_in * K)).
    Several points per voxel: see :mod:`pointwm.ops.subm_conv`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        bias: bool = True,
        reduce: Literal["mean", "sum"] = "mean",
    ) -> None:
        super().__init__()
        kernel_offsets(kernel_size)  # validates
        if reduce not in ("mean", "sum"):
            raise InputError(f"SubMConv3d: reduce must be 'mean' or 'sum', got {reduce!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.reduce = kernel_size, reduce
        k = kernel_size**3
        self.weight = nn.Parameter(torch.empty(k, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size**3)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"bias={self.bias is not None}, reduce={self.reduce!r}")

    def forward(
        self,
        feat: Tensor,
        grid_coord: Tensor | None = None,
        batch: Tensor | None = None,
        rulebook: Rulebook | None = None,
    ) -> Tensor:
        if rulebook is None:
            if grid_coord is None:
                raise InputError("SubMConv3d: pass grid_coord (N, 3) or a rulebook")
            rulebook = subm_rulebook(grid_coord, batch, self.kernel_size)
        elif rulebook.kernel_size != self.kernel_size:
            raise InputError(
                f"SubMConv3d: rulebook built for kernel_size {rulebook.kernel_size}, "
                f"layer has {self.kernel_size}"
            )
        return subm_conv3d(feat, rulebook, self.weight, self.bias, self.reduce)


def _self_check(backend: Backend, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(0)
    coord = torch.randint(0, 6, (200, 3), generator=gen).to(device)
    batch = torch.randint(0, 2, (200,), generator=gen).to(device)
    ukey, _, _, layout = unique_keys(coord, batch, pad=1)
    delta = _key_deltas(layout, 3, device)
    got = _neighbor_map_kernel(backend, ukey.contiguous(), delta)
    _backend.assert_close("subm_neighbor_map", got, neighbor_map_reference(ukey, delta))


_backend.register_self_check("subm_conv", _self_check)
