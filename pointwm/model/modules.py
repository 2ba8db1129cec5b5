"""Backbone layers over a :class:`~pointwm.model.structure.PointBatch`.

- :func:`prepare_stage`: serialisation orders and the sparse-conv rulebook of a stage.
- :class:`PatchAttention`: multi-head self-attention inside patches of ``patch_size``
  consecutive tokens along a space-filling curve, through
  ``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient kernels
  on a GPU, no flash-attn dependency).
- :class:`Block`: conditional positional encoding (sparse 3x3x3 conv) → attention → MLP,
  pre-norm, each residual branch with drop-path.
- :class:`GridPooling` / :class:`GridUnpooling`: stride-2 voxel pooling through
  :func:`pointwm.ops.voxel_unique` + :func:`pointwm.ops.scatter`, and its inverse gather.

Several tokens in one voxel are defined everywhere: the conv pools a voxel's tokens first
(:mod:`pointwm.ops.subm_conv`), attention treats them as separate tokens ordered by a
content key, and pooling merges them into one coarse token.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pointwm import ops
from pointwm.errors import InputError
from pointwm.model.serialization import encode, serialize
from pointwm.model.structure import PointBatch, batch_to_offset

__all__ = [
    "MLP",
    "Block",
    "DropPath",
    "GridPooling",
    "GridUnpooling",
    "PatchAttention",
    "patch_layout",
    "prepare_stage",
]


def prepare_stage(
    points: PointBatch, orders: tuple[str, ...], tie_break: bool = False
) -> PointBatch:
    """Attach the serialisation orders (O, ΣN) and the 3x3x3 rulebook of ``points``.

    With ``tie_break`` rows sharing a voxel are ordered by their continuous ``coord``
    (x, then y, then z), so the result does not depend on input row order; needed at the
    finest stage only (pooled stages hold one token per voxel).
    """
    key = points.coord if tie_break else None
    code = torch.stack([encode(points.grid_coord, points.batch, points.depth, o) for o in orders])
    order, inverse = serialize(code, key)
    rulebook = ops.subm_rulebook(points.grid_coord, points.batch, kernel_size=3)
    return replace(points, order=order, inverse=inverse, rulebook=rulebook)


def patch_layout(offset: Tensor, patch_size: int) -> tuple[Tensor, Tensor, Tensor | None]:
    """Group the serialised rows of each sample into patches of ``patch_size`` slots.

    Args:
        offset: (B,) int64 cumulative row counts of the samples.
        patch_size: slots per patch (K).

    Returns ``(gather (P * K,), home (ΣN,), key_mask (P, K) bool or None)``:
    ``gather[s]`` is the serialised row held by slot s; ``home[r]`` the one slot whose
    output row r takes. A sample with n >= K rows gets ceil(n / K) patches; its last patch
    is filled up with rows of the previous patch (K distinct rows, no mask, as PTv3). A
    sample with n < K rows gets one patch whose empty slots are masked out as keys
    (``key_mask`` True = attend); the mask is None when no sample needs it. Patches never
    mix samples, so a sample's result does not depend on the others.
    """
    k = patch_size
    counts = torch.diff(offset, prepend=offset.new_zeros(1))
    starts = offset - counts
    patches = torch.div(counts + k - 1, k, rounding_mode="floor").clamp(min=1)
    slots = patches * k
    slot_start = slots.cumsum(0) - slots
    total = int(slots.sum())
    sample = torch.repeat_interleave(torch.arange(counts.shape[0], device=offset.device), slots, output_size=total)
    local = torch.arange(total, device=offset.device) - slot_start[sample]  # slot within sample
    n = counts[sample]
    short = n < k
    valid = local < n
    # Rows past the end: from the previous patch (long samples) or the first row (short).
    src = torch.where(valid, local, torch.where(short, torch.zeros_like(local), local - k))
    gather = starts[sample] + src
    real = torch.nonzero(valid).squeeze(1)
    home = torch.empty(int(offset[-1]) if offset.numel() else 0, dtype=torch.long, device=offset.device)
    home[gather[real]] = real
    key_mask = None
    if bool(short.any()):
        key_mask = (valid | ~short).reshape(-1, k)
    return gather, home, key_mask


class DropPath(nn.Module):
    """Stochastic depth per sample (Huang et al. 2016): drop a residual branch for whole samples."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor, batch: Tensor, num_samples: int) -> Tensor:
        """x: (ΣN, C); batch: (ΣN,) sample index; returns x scaled or zeroed per sample."""
        if self.p == 0.0 or not self.training:
            return x
        keep = torch.rand(num_samples, device=x.device) >= self.p
        scale = keep.to(x.dtype) / (1.0 - self.p)
        return x * scale[batch][:, None]

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MLP(nn.Module):
    """Linear → GELU → Linear, (…, C_in) → (…, C_out)."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_channels, hidden)
        self.fc2 = nn.Linear(hidden, out_channels or in_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class PatchAttention(nn.Module):
    """Serialised patch attention (PTv3): (ΣN, C) → (ΣN, C).

    Rows are permuted into the curve order ``points.order[order_index]``, cut into patches
    (:func:`patch_layout`), attended within each patch by
    ``scaled_dot_product_attention``, and scattered back to their rows.
    """

    def __init__(self, channels: int, num_heads: int, patch_size: int) -> None:
        super().__init__()
        if channels % num_heads:
            raise InputError(f"PatchAttention: channels {channels} not divisible by {num_heads} heads")
        self.channels, self.num_heads, self.patch_size = channels, num_heads, patch_size
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor, points: PointBatch, order_index: int, layout) -> Tensor:
        """x: (ΣN, C) features of ``points``; ``layout`` from :func:`patch_layout`."""
        gather, home, key_mask = layout
        order = points.order[order_index]
        k, h = self.patch_size, self.num_heads
        rows = order[gather]  # (P * K,) input row of each slot
        qkv = self.qkv(x).index_select(0, rows).reshape(-1, k, 3, h, self.channels // h)
        q, kk, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (P, H, K, d)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, kk, v, attn_mask=mask)  # (P, H, K, d)
        out = out.transpose(1, 2).reshape(-1, self.channels)  # (P * K, C) by slot
        out = out.index_select(0, home.index_select(0, points.inverse[order_index]))
        return self.proj(out)


class Block(nn.Module):
    """One PTv3 block: x += CPE(x); x += DropPath(Attn(LN(x))); x += DropPath(MLP(LN(x))).

    The conditional positional encoding is a 3x3x3 submanifold sparse conv (tokens sharing
    a voxel are pooled first, see :mod:`pointwm.ops.subm_conv`) → Linear → LayerNorm.
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        patch_size: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.cpe_conv = ops.SubMConv3d(channels, channels, kernel_size=3)
        self.cpe_linear = nn.Linear(channels, channels)
        self.cpe_norm = nn.LayerNorm(channels)
        self.norm1 = nn.LayerNorm(channels)
        self.attn = PatchAttention(channels, num_heads, patch_size)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = MLP(channels, int(channels * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, points: PointBatch, order_index: int, layout) -> PointBatch:
        x = points.feat
        b, nb = points.batch, points.num_samples
        conv = ops.subm_conv3d(x, points.rulebook, self.cpe_conv.weight, self.cpe_conv.bias)
        x = x + self.cpe_norm(self.cpe_linear(conv))
        x = x + self.drop_path(self.attn(self.norm1(x), points, order_index, layout), b, nb)
        x = x + self.drop_path(self.mlp(self.norm2(x)), b, nb)
        return points.with_feat(x)


class GridPooling(nn.Module):
    """Stride-2 grid pooling: tokens → one token per coarse voxel and sample.

    Features: Linear(C_in → C_out), max over the voxel's tokens, LayerNorm, GELU.
    Coordinates: mean. Returns the coarse :class:`PointBatch` (orders and rulebook not yet
    attached) and ``inverse`` (ΣN,) int64, the coarse row of each fine row, so unpooling
    is a gather.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        if stride < 2 or stride & (stride - 1):
            raise InputError(f"GridPooling: stride must be a power of two >= 2, got {stride}")
        self.stride = stride
        self.shift = int(math.log2(stride))
        self.proj = nn.Linear(in_channels, out_channels)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, points: PointBatch) -> tuple[PointBatch, Tensor]:
        coarse = points.grid_coord >> self.shift
        grid = ops.voxel_unique(coarse, points.batch)  # sorted by (sample, x, y, z)
        v = grid.coord.shape[0]
        feat = ops.voxel_pool(self.proj(points.feat), grid, "max")
        coord = ops.voxel_pool(points.coord, grid, "mean")
        pooled = PointBatch(
            feat=F.gelu(self.norm(feat)),
            coord=coord,
            grid_coord=grid.coord,
            batch=grid.batch,
            offset=batch_to_offset(grid.batch, points.num_samples),
            depth=max(points.depth - self.shift, 1),
        )
        assert pooled.feat.shape[0] == v
        return pooled, grid.inverse


class GridUnpooling(nn.Module):
    """Inverse of :class:`GridPooling`: fine = proj_skip(skip) + proj(coarse)[inverse]."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(in_channels, out_channels), nn.LayerNorm(out_channels), nn.GELU())
        self.proj_skip = nn.Sequential(
            nn.Linear(skip_channels, out_channels), nn.LayerNorm(out_channels), nn.GELU()
        )

    def forward(self, coarse: PointBatch, skip: PointBatch, inverse: Tensor) -> PointBatch:
        """coarse: pooled points; skip: the fine points before pooling; inverse: (ΣN_fine,)."""
        feat = self.proj_skip(skip.feat) + self.proj(coarse.feat).index_select(0, inverse)
        return skip.with_feat(feat)
