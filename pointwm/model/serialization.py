"""Space-filling-curve serialisation of voxel grid coordinates (Point Transformer V3).

Orders: ``"z"`` (Morton / z-order), ``"hilbert"``, and their transposed variants
``"z-trans"`` and ``"hilbert-trans"`` (x and y axes swapped before encoding, so the curve
sweeps the other way and neighbouring patches differ between orders).

:func:`encode` packs ``(batch, curve code)`` into one int64: the sample index sits above
the ``3 * depth`` code bits, so sorting codes sorts by sample, then along the curve.
:func:`serialize` turns codes into row permutations, breaking ties (several tokens in one
voxel) by a content key so that the order does not depend on the input row order.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pointwm.errors import InputError

__all__ = ["ORDERS", "encode", "hilbert_encode", "serialize", "z_order_encode"]

ORDERS = ("z", "z-trans", "hilbert", "hilbert-trans")
_CODE_BITS = 63


def _check_grid(grid_coord: Tensor, depth: int, name: str) -> Tensor:
    if grid_coord.ndim != 2 or grid_coord.shape[1] != 3:
        raise InputError(f"{name}: grid_coord must be (N, 3), got {tuple(grid_coord.shape)}")
    if grid_coord.is_floating_point():
        raise TypeError(f"{name}: grid_coord must be an integer tensor, got {grid_coord.dtype}")
    if not 1 <= depth <= 21:
        raise InputError(f"{name}: depth must be in [1, 21] bits per axis, got {depth}")
    g = grid_coord.long()
    if g.numel():
        lo, hi = int(g.min()), int(g.max())
        if lo < 0 or hi >= (1 << depth):
            raise InputError(
                f"{name}: grid coordinates must lie in [0, 2**{depth}) for depth {depth}, "
                f"got [{lo}, {hi}] (the scene is too large for the serialisation depth)"
            )
    return g


def _spread3(v: Tensor) -> Tensor:
    """Move bit i of ``v`` (< 2**21) to bit 3i (the "part1by2" magic-number spread)."""
    v = v & 0x1FFFFF
    v = (v | (v << 32)) & 0x1F00000000FFFF
    v = (v | (v << 16)) & 0x1F0000FF0000FF
    v = (v | (v << 8)) & 0x100F00F00F00F00F
    v = (v | (v << 4)) & 0x10C30C30C30C30C3
    v = (v | (v << 2)) & 0x1249249249249249
    return v


def _interleave(x: Tensor, y: Tensor, z: Tensor) -> Tensor:
    return (_spread3(x) << 2) | (_spread3(y) << 1) | _spread3(z)


def z_order_encode(grid_coord: Tensor, depth: int) -> Tensor:
    """Morton code (N,) int64 of ``grid_coord`` (N, 3) int in [0, 2**depth); x most significant."""
    g = _check_grid(grid_coord, depth, "z_order_encode")
    return _interleave(g[:, 0], g[:, 1], g[:, 2])


def hilbert_encode(grid_coord: Tensor, depth: int) -> Tensor:
    """Hilbert code (N,) int64 of ``grid_coord`` (N, 3) int in [0, 2**depth).

    Skilling's transpose algorithm ("Programming the Hilbert curve", AIP Conf. Proc. 707,
    2004), vectorised over points: undo the excess work, Gray-encode, then interleave the
    transposed bits (axis 0 most significant).
    """
    g = _check_grid(grid_coord, depth, "hilbert_encode")
    x = [g[:, 0].clone(), g[:, 1].clone(), g[:, 2].clone()]
    q = 1 << (depth - 1)
    while q > 1:
        p = q - 1
        for i in range(3):
            hit = (x[i] & q) != 0
            t = (x[0] ^ x[i]) & p
            if i == 0:
                x[0] = torch.where(hit, x[0] ^ p, x[0])
            else:
                x0_new = torch.where(hit, x[0] ^ p, x[0] ^ t)
                x[i] = torch.where(hit, x[i], x[i] ^ t)
                x[0] = x0_new
        q >>= 1
    x[1] = x[1] ^ x[0]
    x[2] = x[2] ^ x[1]
    t = torch.zeros_like(x[0])
    q = 1 << (depth - 1)
    while q > 1:
        t = torch.where((x[2] & q) != 0, t ^ (q - 1), t)
        q >>= 1
    return _interleave(x[0] ^ t, x[1] ^ t, x[2] ^ t)


def encode(grid_coord: Tensor, batch: Tensor | None, depth: int, order: str = "z") -> Tensor:
    """Serialisation codes (N,) int64: ``batch << 3 * depth | curve code``.

    Args:
        grid_coord: (N, 3) int voxel coordinates in [0, 2**depth).
        batch: (N,) int sample index >= 0, or None (all zero).
        depth: bits per axis.
        order: one of :data:`ORDERS`.

    Raises ``ValueError`` when the sample index does not fit in the ``63 - 3 * depth``
    bits left above the code (the bit budget), or coordinates are out of range.
    """
    if order not in ORDERS:
        raise InputError(f"encode: order must be one of {ORDERS}, got {order!r}")
    if order.endswith("-trans"):
        grid_coord = grid_coord[:, [1, 0, 2]]
    curve = z_order_encode if order.startswith("z") else hilbert_encode
    code = curve(grid_coord, depth)
    if batch is None:
        return code
    batch = batch.long()
    max_batch = int(batch.max()) if batch.numel() else 0
    if max_batch.bit_length() + 3 * depth > _CODE_BITS:
        raise InputError(
            f"encode: {max_batch + 1} samples at depth {depth} need "
            f"{max_batch.bit_length() + 3 * depth} bits, more than the {_CODE_BITS}-bit budget"
        )
    return (batch << (3 * depth)) | code


def serialize(code: Tensor, tie_key: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Row orders sorting each row of ``code`` (O, N) int64 ascending, ties broken by ``tie_key``.

    ``tie_key`` (N, D) float, compared lexicographically (column 0 first), makes the order
    independent of input row order for tokens that share a code; rows equal in both keep
    their input order. The tie-break permutation is computed once for all O orders.
    Returns ``(order (O, N), inverse (O, N))`` int64 with ``inverse[o, order[o]] == arange(N)``.
    """
    if code.ndim == 1:
        order, inverse = serialize(code[None], tie_key)
        return order[0], inverse[0]
    o, n = code.shape
    perm = torch.arange(n, device=code.device)
    if tie_key is not None:
        for d in reversed(range(tie_key.shape[1])):
            idx = torch.sort(tie_key[perm, d], stable=True).indices
            perm = perm[idx]
    idx = torch.sort(code[:, perm], dim=1, stable=True).indices  # (O, N)
    order = perm[idx]
    inverse = torch.empty_like(order)
    inverse.scatter_(1, order, torch.arange(n, device=code.device).expand(o, n))
    return order, inverse
