"""``segment_reduce``: reduce rows of ``src`` over sorted CSR segments given by ``indptr``.

Three faces: :func:`segment_reduce_reference` (PyTorch: ``torch.segment_reduce`` for the
values, the scatter reference's arg rule for max/min; CPU path and test oracle; the tests
also check it against ``scatter`` with the expanded row index), ``cuda/segment_reduce.cu``
(one thread per (segment, column), deterministic), and :func:`segment_reduce`, the
public op (autograd shared with ``scatter``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pointwm.errors import InputError
from pointwm.ops import _backend
from pointwm.ops._backend import Backend
from pointwm.ops.scatter import (
    KERNEL_DTYPES,
    REDUCES,
    UPCAST_DTYPES,
    Forward,
    Reduce,
    ScatterFunction,
    _with_arg,
)
from pointwm.ops.scatter import _reference_forward as _scatter_reference_forward

_REDUCE_CODE = {"sum": 0, "mean": 1, "max": 2, "min": 3}


def _check(src: Tensor, indptr: Tensor, reduce: str) -> None:
    if not isinstance(src, Tensor):
        raise TypeError(f"segment_reduce: src must be a torch.Tensor, got {type(src).__name__}")
    if not isinstance(indptr, Tensor):
        raise TypeError(
            f"segment_reduce: indptr must be a torch.Tensor, got {type(indptr).__name__}"
        )
    if reduce not in REDUCES:
        raise InputError(f"segment_reduce: reduce must be one of {REDUCES}, got {reduce!r}")
    if src.ndim not in (1, 2):
        raise InputError(
            f"segment_reduce: src must be (N,) or (N, C), got shape {tuple(src.shape)}"
        )
    if indptr.ndim != 1 or indptr.shape[0] < 1:
        raise InputError(f"segment_reduce: indptr must be (S + 1,), got {tuple(indptr.shape)}")
    if indptr.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"segment_reduce: indptr must be int64 or int32, got {indptr.dtype}")
    if indptr.device != src.device:
        raise InputError(f"segment_reduce: indptr on {indptr.device} but src on {src.device}")
    n = src.shape[0]
    first, last = int(indptr[0]), int(indptr[-1])
    if first != 0 or last != n:
        raise InputError(
            f"segment_reduce: indptr must start at 0 and end at N = {n}, got {first} ... {last}"
        )
    if indptr.shape[0] > 1 and bool((indptr[1:] < indptr[:-1]).any()):
        raise InputError("segment_reduce: indptr must be non-decreasing")


def _row_index(indptr: Tensor, n: int) -> Tensor:
    """(N,) int64 segment of each row, from indptr (S + 1,)."""
    s = indptr.shape[0] - 1
    counts = indptr[1:] - indptr[:-1]
    return torch.repeat_interleave(torch.arange(s, device=indptr.device), counts, output_size=n)


def _reference_forward(
    x: Tensor, indptr: Tensor, index: Tensor | None, reduce: str
) -> Forward:
    """Reference on (N, C) ``x``, int64 ``indptr`` (S + 1,) and its row ``index`` (N,).

    ``torch.segment_reduce`` (several times faster than a scatter on sorted rows) for the
    values; the arg of max/min as in scatter. Falls back to the scatter reference for
    dtypes that ``torch.segment_reduce`` does not take.
    """
    s = indptr.shape[0] - 1
    if index is not None and index.shape[0] != x.shape[0]:  # skipped: only values needed
        index = None
    if x.shape[0] == 0 or s == 0 or not x.is_floating_point():
        return _scatter_reference_forward(x, _row_index(indptr, x.shape[0]), s, reduce)
    op = "sum" if reduce == "mean" else reduce
    try:
        values = torch.segment_reduce(x, op, offsets=indptr, axis=0, unsafe=True)
    except (RuntimeError, NotImplementedError):  # dtype/device not supported natively
        return _scatter_reference_forward(x, _row_index(indptr, x.shape[0]), s, reduce)
    if reduce == "sum":
        return values, None, None
    if reduce == "mean":
        count = (indptr[1:] - indptr[:-1]).to(x.dtype)
        return values / count.clamp(min=1)[:, None], None, count
    return _with_arg(x, _row_index(indptr, x.shape[0]) if index is None else index, values)


def _kernel_forward(backend: Backend, x: Tensor, indptr: Tensor, reduce: str) -> Forward:
    """``cuda/segment_reduce.cu`` on contiguous (N, C) ``x`` and int64 ``indptr`` (S + 1,)."""
    if x.dtype in UPCAST_DTYPES:
        values, arg, count = _kernel_forward(backend, x.float(), indptr, reduce)
        return values.to(x.dtype), arg, None if count is None else count.to(x.dtype)
    n, c = x.shape
    s = indptr.shape[0] - 1
    out = x.new_empty((s, c))
    arg = torch.empty((s, c) if reduce in ("max", "min") else (1,), dtype=torch.long,
                      device=x.device)
    backend.launch("segment_reduce", f"segment_reduce_{KERNEL_DTYPES[x.dtype]}", s * c,
                   x, indptr, out, arg, n, s, c, _REDUCE_CODE[reduce])
    if reduce in ("max", "min"):
        return out, arg, None
    count = (indptr[1:] - indptr[:-1]).to(x.dtype) if reduce == "mean" else None
    return out, None, count


def segment_reduce_reference(
    src: Tensor, indptr: Tensor, reduce: Reduce = "sum"
) -> Tensor | tuple[Tensor, Tensor]:
    """PyTorch reference of :func:`segment_reduce` (same contract)."""
    _check(src, indptr, reduce)
    x = src[:, None] if src.ndim == 1 else src
    indptr = indptr.long()
    index = _row_index(indptr, x.shape[0])
    values, arg, _ = _reference_forward(x, indptr, index, reduce)
    if src.ndim == 1:
        values, arg = values[:, 0], None if arg is None else arg[:, 0]
    return values if arg is None else (values, arg)


def segment_reduce(
    src: Tensor, indptr: Tensor, reduce: Reduce = "sum"
) -> Tensor | tuple[Tensor, Tensor]:
    """Reduce rows of ``src`` (N, C) or (N,) over S sorted segments (CSR ``indptr``).

    Segment s is rows ``indptr[s] : indptr[s + 1]``; ``indptr`` (S + 1,) int64/int32 must
    start at 0, end at N and not decrease (``ValueError`` otherwise; checking costs one
    device sync on CUDA).

    Returns the same as :func:`pointwm.ops.scatter` with ``index`` = the segment of each
    row and ``dim_size`` = S: sum/mean values (S, C), or ``(values, arg)`` for max/min
    with arg the smallest winning row and N (value 0) for empty segments. Differentiable
    in ``src``. The CUDA kernel is deterministic (one thread walks each segment in order).
    """
    _check(src, indptr, reduce)
    x = src[:, None] if src.ndim == 1 else src
    x = x.contiguous()
    indptr = indptr.to(torch.long).contiguous()
    s = indptr.shape[0] - 1
    needs_index = x.requires_grad or reduce in ("max", "min") or not x.is_floating_point()
    # The row index (N,) serves backward and the max/min arg only; skip it otherwise.
    index = _row_index(indptr, x.shape[0]) if needs_index else indptr.new_empty(0)
    if not x.is_floating_point():
        values, arg, _ = _reference_forward(x, indptr, index, reduce)
        out = values if arg is None else (values, arg)
    else:
        backend = _backend.kernel_backend("segment_reduce", x.device)

        def forward_impl(t: Tensor, r: str) -> Forward:
            if backend is None or t.numel() == 0 or s == 0:
                return _reference_forward(t, indptr, index, r)
            return _kernel_forward(backend, t, indptr, r)

        out = ScatterFunction.apply(x, index, reduce, forward_impl)
    if src.ndim == 1:
        if isinstance(out, tuple):
            return out[0][:, 0], out[1][:, 0]
        return out[:, 0]
    return out


def _self_check(backend: Backend, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=gen).to(device)
    cuts = torch.randint(0, 201, (30,), generator=gen).sort().values
    indptr = torch.cat([torch.tensor([0]), cuts, torch.tensor([200])]).to(device)
    index = _row_index(indptr, 200)
    for reduce in REDUCES:
        got = _kernel_forward(backend, x, indptr, reduce)
        want = _reference_forward(x, indptr, index, reduce)
        _backend.assert_close(f"segment_reduce[{reduce}]", got[0], want[0])
        if want[1] is not None:
            _backend.assert_close(f"segment_reduce[{reduce}].arg", got[1], want[1])


_backend.register_self_check("segment_reduce", _self_check)
