"""Flow metrics of REFERENCE.md, accumulated over clips.

For step t and scene point n with true displacement ``d[t, n]`` and prediction ``p[t, n]``
(metres, from the t0 position):

- ``l2``:        mean ``|p - d|`` over valid (t, n), t = 1..T;
- ``l2_moved``:  the same over points with ``|d[t, n]| > moved_threshold`` (5 mm);
- ``l2_static``: the same over points with ``|d[t, n]| <= moved_threshold``.

"Moved" is decided per step from the ground truth. Sums and counts are kept separately
(``state``/``merge``) so that shards of an evaluation, or DDP ranks, add up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from pointwm.errors import InputError

MOVED_THRESHOLD = 0.005  # metres, PointWorld's


@dataclass
class FlowMetrics:
    """Accumulates per-step error sums and counts. T is fixed by the first update."""

    moved_threshold: float = MOVED_THRESHOLD
    # (3, T) float64: rows = all, moved, static; sums of errors (m) and counts
    sums: Tensor | None = field(default=None, repr=False)
    counts: Tensor | None = field(default=None, repr=False)

    def update(self, pred: Tensor, target: Tensor, valid: Tensor | None = None) -> None:
        """Add one clip (or a batch of clips).

        pred, target: (..., T, N, 3) displacements from t0, metres.
        valid: (..., T, N) bool, points whose ground truth counts (None: all).
        """
        if pred.shape != target.shape or pred.shape[-1] != 3 or pred.ndim < 3:
            raise InputError(
                f"FlowMetrics.update: pred {tuple(pred.shape)} and target {tuple(target.shape)} "
                "must both be (..., T, N, 3)"
            )
        if valid is None:
            valid = torch.ones(pred.shape[:-1], dtype=torch.bool, device=pred.device)
        elif valid.shape != pred.shape[:-1]:
            raise InputError(f"FlowMetrics.update: valid must be {tuple(pred.shape[:-1])}, got {tuple(valid.shape)}")
        err = (pred.double() - target.double()).norm(dim=-1)  # (..., T, N)
        moved = target.double().norm(dim=-1) > self.moved_threshold
        masks = (valid, valid & moved, valid & ~moved)
        T = pred.shape[-3]
        dims = [d for d in range(err.ndim) if d != err.ndim - 2]  # all but the step axis
        sums = torch.stack([(err * m).sum(dim=dims) for m in masks]).cpu()
        counts = torch.stack([m.sum(dim=dims) for m in masks]).double().cpu()
        if self.sums is None:
            self.sums, self.counts = torch.zeros(3, T, dtype=torch.float64), torch.zeros(3, T, dtype=torch.float64)
        elif self.sums.shape[1] != T:
            raise InputError(f"FlowMetrics.update: T = {T} but earlier clips had T = {self.sums.shape[1]}")
        self.sums += sums
        self.counts += counts

    def merge(self, other: FlowMetrics) -> None:
        """Add another accumulator's sums and counts (e.g. from another process)."""
        if other.sums is None:
            return
        if self.sums is None:
            self.sums, self.counts = other.sums.clone(), other.counts.clone()
        else:
            self.sums += other.sums
            self.counts += other.counts

    def per_step(self) -> dict[str, list[float]]:
        """{"l2": [T values], "l2_moved": [...], "l2_static": [...]} in metres (NaN if no points)."""
        if self.sums is None:
            raise InputError("FlowMetrics: no clip added yet")
        mean = self.sums / self.counts.clamp(min=1)
        mean = torch.where(self.counts > 0, mean, torch.full_like(mean, float("nan")))
        return {name: mean[i].tolist() for i, name in enumerate(("l2", "l2_moved", "l2_static"))}

    def summary(self) -> dict[str, float]:
        """Means over all steps: l2, l2_moved, l2_static (metres) and the moved fraction."""
        if self.sums is None:
            raise InputError("FlowMetrics: no clip added yet")
        s, c = self.sums.sum(1), self.counts.sum(1)
        out = {name: (float(s[i] / c[i]) if c[i] > 0 else float("nan"))
               for i, name in enumerate(("l2", "l2_moved", "l2_static"))}
        out["moved_fraction"] = float(c[1] / c[0]) if c[0] > 0 else float("nan")
        return out
