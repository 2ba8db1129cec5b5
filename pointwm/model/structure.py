"""The packed point batch that flows through the backbone.

All B samples of a batch are packed along one axis: sample b owns rows
``offset[b-1]:offset[b]`` (``offset[-1]`` = total). Rows of one sample are contiguous and
samples are in order, so ``batch`` (per row) and ``offset`` (per sample) derive from each
other. Several rows may share one voxel (scene and robot tokens of several steps): every
operation on a ``PointBatch`` is defined for that case (see :mod:`pointwm.model.modules`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from pointwm.ops import Rulebook

__all__ = ["PointBatch", "batch_to_offset", "offset_to_batch"]


def offset_to_batch(offset: Tensor) -> Tensor:
    """(B,) int64 cumulative row counts → (ΣN,) int64 sample index of each row."""
    counts = torch.diff(offset, prepend=offset.new_zeros(1))
    return torch.repeat_interleave(torch.arange(offset.shape[0], device=offset.device), counts)


def batch_to_offset(batch: Tensor, num_samples: int | None = None) -> Tensor:
    """(ΣN,) int64 sorted sample index of each row → (B,) int64 cumulative row counts."""
    b = num_samples if num_samples is not None else (int(batch.max()) + 1 if batch.numel() else 0)
    return torch.bincount(batch, minlength=b).cumsum(0)


@dataclass
class PointBatch:
    """Tokens of B samples packed along the first axis (ΣN rows).

    feat:       (ΣN, C) float features.
    coord:      (ΣN, 3) float, metres, in each sample's re-centred frame.
    grid_coord: (ΣN, 3) int64 >= 0 voxel coordinates at this stage's resolution.
    batch:      (ΣN,) int64 sample index, non-decreasing.
    offset:     (B,) int64 cumulative row counts (``offset[-1] == ΣN``).
    depth:      bits per axis of ``grid_coord`` (all coordinates < 2 ** depth).
    order:      (O, ΣN) int64 row permutations, one per serialisation order: rows sorted by
                (sample, space-filling-curve code); ``inverse[o][order[o]] == arange``.
    inverse:    (O, ΣN) int64 inverse permutations of ``order``.
    rulebook:   the sparse-conv neighbour map of ``grid_coord`` (built once per stage).
    """

    feat: Tensor
    coord: Tensor
    grid_coord: Tensor
    batch: Tensor
    offset: Tensor
    depth: int
    order: Tensor | None = None
    inverse: Tensor | None = None
    rulebook: Rulebook | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = self.feat.shape[0]
        for name in ("coord", "grid_coord", "batch"):
            value = getattr(self, name)
            assert value.shape[0] == n, f"PointBatch.{name} has {value.shape[0]} rows, feat {n}"
        assert self.offset.numel() == 0 or int(self.offset[-1]) == n

    @property
    def num_samples(self) -> int:
        return self.offset.shape[0]

    def __len__(self) -> int:
        return self.feat.shape[0]

    def with_feat(self, feat: Tensor) -> PointBatch:
        """The same points with new features (ΣN, C')."""
        return replace(self, feat=feat)

    def counts(self) -> Tensor:
        """(B,) int64 rows per sample."""
        return torch.diff(self.offset, prepend=self.offset.new_zeros(1))

    def to_padded(self, value: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Padded copy of ``value`` (ΣN, C) (default ``feat``): ((B, max N, C), lengths (B,))."""
        value = self.feat if value is None else value
        lengths = self.counts()
        b, nmax = self.num_samples, int(lengths.max()) if lengths.numel() else 0
        out = value.new_zeros((b, nmax) + tuple(value.shape[1:]))
        start = self.offset - lengths
        pos = torch.arange(len(self), device=value.device) - start[self.batch]
        out[self.batch, pos] = value
        return out, lengths
