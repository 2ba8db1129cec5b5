"""Goals: which scene points should go where, optionally by a given step.

A :class:`Goal` selects scene points (``indices``, a boolean ``mask`` or a world-frame
``box``) and says where they should go: by a ``displacement`` (each point moves by the same
vector), to ``positions`` (one target per selected point), with their ``centroid`` at a
point (orientation free), or into a ``target_box``. ``step`` (1..T) is when; None means the last step.

Text form (the CLI's ``--goal``), ``SELECTION TARGET [@STEP]``::

    box:x0,y0,z0,x1,y1,z1+dx,dy,dz       points in a box move by (dx, dy, dz)
    idx:3,17,42+dx,dy,dz                 points by index
    box:...>x,y,z                        centroid of the points to (x, y, z)
    box:...>box:x0,y0,z0,x1,y1,z1        every point into a target box
    ...@5                                reached by step 5 (default: the last step)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from pointwm.errors import PointwmError

__all__ = ["Goal", "GoalError", "ResolvedGoal"]


class GoalError(PointwmError, ValueError):
    """A goal that cannot be used: bad syntax, no points selected, target out of reach."""


def _floats(text: str, n: int, what: str) -> tuple[float, ...]:
    parts = [p for p in text.split(",") if p.strip() != ""]
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise GoalError(f"goal: {what}: expected {n} comma-separated numbers, got {text!r}") from None
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise GoalError(f"goal: {what}: expected {n} finite comma-separated numbers, got {text!r}")
    return vals


def _box(v: Sequence[float], what: str) -> tuple[float, ...]:
    v = tuple(float(x) for x in v)
    if len(v) != 6 or not all(math.isfinite(x) for x in v):
        raise GoalError(f"goal: {what}: expected 6 finite numbers x0,y0,z0,x1,y1,z1, got {v}")
    if any(v[i] > v[i + 3] for i in range(3)):
        raise GoalError(f"goal: {what}: expected x0<=x1, y0<=y1, z0<=z1, got {v}")
    return v


def _vec3(v: Sequence[float], what: str) -> tuple[float, float, float]:
    v = tuple(float(x) for x in v)
    if len(v) != 3 or not all(math.isfinite(x) for x in v):
        raise GoalError(f"goal: {what}: expected 3 finite numbers, got {v}")
    return v  # type: ignore[return-value]


@dataclass(frozen=True)
class ResolvedGoal:
    """A goal bound to one scene of N points.

    mask:     (N,) bool, the G selected points.
    index:    (G,) long, their indices.
    targets:  (G, 3) float target positions (world, m), or None when a box is the target.
    box_lo, box_hi: (3,) float target box corners (m), or None.
    step:     0-based index into the T predicted steps.
    centroid: only the selected points' centroid must reach the targets' centroid; how they
              turn about it costs nothing (a ``centroid`` goal: "put this object there").
    """

    mask: Tensor
    index: Tensor
    targets: Tensor | None
    box_lo: Tensor | None
    box_hi: Tensor | None
    step: int
    centroid: bool = False

    def to_go(self, positions: Tensor) -> Tensor:
        """(..., G, 3) vector (m) from goal-point positions (..., G, 3) to their targets (to
        the nearest point of the target box; zero inside it). A ``centroid`` goal gives every
        point the same vector, from the points' centroid to the targets'."""
        if self.centroid:
            way = self.targets.to(positions).mean(-2) - positions.mean(-2)  # (..., 3)
            return way.unsqueeze(-2).expand_as(positions)
        if self.targets is not None:
            return self.targets.to(positions) - positions
        return torch.clamp(positions, self.box_lo.to(positions), self.box_hi.to(positions)) - positions

    def distance(self, positions: Tensor) -> Tensor:
        """(..., G) distance (m) of goal-point positions (..., G, 3) to their targets."""
        return torch.linalg.vector_norm(self.to_go(positions), dim=-1)


@dataclass(frozen=True)
class Goal:
    """Scene points and where they should go. Exactly one selection and one target.

    Selection: ``indices`` (G ints), ``mask`` ((N,) bool) or ``box`` (x0,y0,z0,x1,y1,z1 m).
    Target: ``displacement`` (3,) m, ``positions`` ((G, 3) m, in selection order),
    ``centroid`` (3,) m, or ``target_box`` (6,) m. ``step``: 1..T, or None for the last.
    A ``centroid`` goal asks only that the points' centroid reach that point: the points may
    turn about it (a pushed object rotates); the other targets fix every point.
    """

    indices: tuple[int, ...] | None = None
    mask: Tensor | None = None
    box: tuple[float, ...] | None = None
    displacement: tuple[float, float, float] | None = None
    positions: Tensor | None = None
    centroid: tuple[float, float, float] | None = None
    target_box: tuple[float, ...] | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        sel = [n for n in ("indices", "mask", "box") if getattr(self, n) is not None]
        if len(sel) != 1:
            raise GoalError(f"goal: expected exactly one selection (indices, mask or box), got {sel or 'none'}")
        tgt = [n for n in ("displacement", "positions", "centroid", "target_box") if getattr(self, n) is not None]
        if len(tgt) != 1:
            raise GoalError(
                f"goal: expected exactly one target (displacement, positions, centroid or target_box), got {tgt or 'none'}"
            )
        if self.indices is not None:
            idx = tuple(int(i) for i in self.indices)
            if not idx:
                raise GoalError("goal: indices: empty selection, the goal selects no points")
            object.__setattr__(self, "indices", idx)
        if self.mask is not None:
            m = torch.as_tensor(self.mask)
            if m.dtype != torch.bool or m.ndim != 1:
                raise GoalError(f"goal: mask: expected a (N,) bool tensor, got {m.dtype} {tuple(m.shape)}")
            object.__setattr__(self, "mask", m)
        if self.box is not None:
            object.__setattr__(self, "box", _box(self.box, "box"))
        if self.displacement is not None:
            object.__setattr__(self, "displacement", _vec3(self.displacement, "displacement"))
        if self.centroid is not None:
            object.__setattr__(self, "centroid", _vec3(self.centroid, "centroid"))
        if self.target_box is not None:
            object.__setattr__(self, "target_box", _box(self.target_box, "target_box"))
        if self.positions is not None:
            p = torch.as_tensor(self.positions, dtype=torch.float32)
            if p.ndim != 2 or p.shape[1] != 3 or not bool(torch.isfinite(p).all()):
                raise GoalError(f"goal: positions: expected finite (G, 3) metres, got {tuple(p.shape)}")
            object.__setattr__(self, "positions", p)
        if self.step is not None and (not isinstance(self.step, int) or self.step < 1):
            raise GoalError(f"goal: step: expected an integer >= 1 (1..T), got {self.step!r}")

    # ------------------------------------------------------------------ text form
    @classmethod
    def parse(cls, text: str) -> Goal:
        """Parse the text form (module docstring), e.g. ``box:0.4,-0.1,0,0.6,0.1,0.2+0.1,0,0``."""
        if not isinstance(text, str) or not text.strip():
            raise GoalError(f"goal: expected text like 'box:x0,y0,z0,x1,y1,z1+dx,dy,dz', got {text!r}")
        s = text.strip().replace(" ", "")
        step = None
        m = re.fullmatch(r"(.*)@(\d+)", s)
        if m:
            s, step = m.group(1), int(m.group(2))
        m = re.fullmatch(r"(box|idx):([^+>]*)([+>])(.*)", s)
        if not m:
            raise GoalError(
                f"goal {text!r}: expected SELECTION TARGET[@STEP] with SELECTION 'box:x0,y0,z0,x1,y1,z1' or "
                "'idx:i,j,...' and TARGET '+dx,dy,dz', '>x,y,z' or '>box:x0,y0,z0,x1,y1,z1'"
            )
        kind, sel, op, tgt = m.groups()
        kw: dict = {"step": step}
        if kind == "box":
            kw["box"] = _floats(sel, 6, "selection box")
        else:
            try:
                kw["indices"] = tuple(int(p) for p in sel.split(",") if p)
            except ValueError:
                raise GoalError(f"goal: idx: expected comma-separated integers, got {sel!r}") from None
        if op == "+":
            kw["displacement"] = _floats(tgt, 3, "displacement")
        elif tgt.startswith("box:"):
            kw["target_box"] = _floats(tgt[4:], 6, "target box")
        else:
            kw["centroid"] = _floats(tgt, 3, "target point")
        return cls(**kw)

    # ------------------------------------------------------------------ binding
    def resolve(
        self,
        xyz: Tensor,
        T: int,
        workspace: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> ResolvedGoal:
        """Bind to a scene.

        xyz: (N, 3) scene points at t0 (world, m). T: the planning horizon (steps).
        workspace: optional (lo, hi) box (m); targets outside it raise :class:`GoalError`.
        """
        if not isinstance(xyz, Tensor) or xyz.ndim != 2 or xyz.shape[1] != 3:
            raise GoalError(f"goal: scene points: expected a (N, 3) tensor, got {getattr(xyz, 'shape', type(xyz))}")
        N = xyz.shape[0]
        if self.mask is not None:
            if self.mask.shape[0] != N:
                raise GoalError(f"goal: mask has {self.mask.shape[0]} entries but the scene has {N} points")
            mask = self.mask.to(xyz.device)
        elif self.indices is not None:
            idx = torch.tensor(self.indices, dtype=torch.long)
            if int(idx.min()) < 0 or int(idx.max()) >= N:
                raise GoalError(f"goal: indices must be in [0, {N}) for this scene, got min {int(idx.min())} max {int(idx.max())}")
            mask = torch.zeros(N, dtype=torch.bool, device=xyz.device)
            mask[idx.to(xyz.device)] = True
        else:
            lo = xyz.new_tensor(self.box[:3])
            hi = xyz.new_tensor(self.box[3:])
            mask = ((xyz >= lo) & (xyz <= hi)).all(dim=1)
        index = mask.nonzero().flatten()
        G = index.numel()
        if G == 0:
            raise GoalError(f"goal selects no points of the {N}-point scene ({self.describe()})")
        sel = xyz[index]
        targets = box_lo = box_hi = None
        if self.displacement is not None:
            targets = sel + sel.new_tensor(self.displacement)
        elif self.centroid is not None:
            targets = sel + (sel.new_tensor(self.centroid) - sel.mean(0))
        elif self.positions is not None:
            if self.positions.shape[0] != G:
                raise GoalError(f"goal: positions has {self.positions.shape[0]} rows but the selection has {G} points")
            targets = self.positions.to(sel)
        else:
            box_lo, box_hi = sel.new_tensor(self.target_box[:3]), sel.new_tensor(self.target_box[3:])
        step = T if self.step is None else self.step
        if not 1 <= step <= T:
            raise GoalError(f"goal: step {step} is outside the planning horizon 1..{T}")
        if workspace is not None:
            wlo, whi = xyz.new_tensor(tuple(workspace[0])), xyz.new_tensor(tuple(workspace[1]))
            if targets is not None:
                c = targets.mean(0)
                outside = bool(((c < wlo - 1e-6) | (c > whi + 1e-6)).any())
            else:
                outside = bool(((box_hi < wlo) | (box_lo > whi)).any())
            if outside:
                where = [round(float(x), 3) for x in (targets.mean(0) if targets is not None else torch.cat([box_lo, box_hi]))]
                raise GoalError(
                    f"goal target {where} is outside the workspace lo={list(workspace[0])} hi={list(workspace[1])}"
                )
        return ResolvedGoal(mask, index, targets, box_lo, box_hi, step - 1, centroid=self.centroid is not None)

    def describe(self) -> str:
        """A short human-readable form."""
        if self.box is not None:
            sel = f"points in box {list(self.box)}"
        elif self.indices is not None:
            sel = f"{len(self.indices)} indexed points"
        else:
            sel = f"{int(self.mask.sum())} masked points"
        if self.displacement is not None:
            tgt = f"move by {list(self.displacement)}"
        elif self.centroid is not None:
            tgt = f"centroid to {list(self.centroid)}"
        elif self.target_box is not None:
            tgt = f"into box {list(self.target_box)}"
        else:
            tgt = "to given positions"
        return f"{sel}: {tgt}" + (f" by step {self.step}" if self.step else "")
