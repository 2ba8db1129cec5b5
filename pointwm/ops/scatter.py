"""``scatter``: reduce rows of ``src`` into ``dim_size`` bins named by ``index``.

Three faces: :func:`scatter_reference` (PyTorch; the CPU path and the test oracle, built on
``Tensor.index_add`` / ``Tensor.scatter_reduce``, which are fast on the CPU), the kernels in
``cuda/scatter.cu`` (used on CUDA tensors when cupy is installed), and :func:`scatter`, the
public op with its ``torch.autograd.Function``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from pointwm.errors import InputError
from pointwm.ops import _backend
from pointwm.ops._backend import Backend

Reduce = Literal["sum", "mean", "max", "min"]
REDUCES = ("sum", "mean", "max", "min")
KERNEL_DTYPES = {torch.float32: "f32", torch.float64: "f64"}
UPCAST_DTYPES = (torch.float16, torch.bfloat16)  # run the kernels in float32, cast back

# (values (B, C), arg (B, C) int64 or None, count (B,) in values' dtype or None)
Forward = tuple[Tensor, Tensor | None, Tensor | None]


def _check(src: Tensor, index: Tensor, dim_size: int, reduce: str) -> None:
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter: src must be a torch.Tensor, got {type(src).__name__}")
    if not isinstance(index, Tensor):
        raise TypeError(f"scatter: index must be a torch.Tensor, got {type(index).__name__}")
    if reduce not in REDUCES:
        raise InputError(f"scatter: reduce must be one of {REDUCES}, got {reduce!r}")
    if src.ndim not in (1, 2):
        raise InputError(f"scatter: src must be (N,) or (N, C), got shape {tuple(src.shape)}")
    if index.ndim != 1 or index.shape[0] != src.shape[0]:
        raise InputError(
            f"scatter: index must be (N,) with N = {src.shape[0]} like src, got {tuple(index.shape)}"
        )
    if index.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"scatter: index must be int64 or int32, got {index.dtype}")
    if index.device != src.device:
        raise InputError(f"scatter: index on {index.device} but src on {src.device}")
    if isinstance(dim_size, bool) or not isinstance(dim_size, int) or dim_size < 0:
        raise InputError(f"scatter: dim_size must be an int >= 0, got {dim_size!r}")
    if index.numel():
        lo, hi = (int(v) for v in torch.aminmax(index))
        if lo < 0 or hi >= dim_size:
            raise IndexError(
                f"scatter: index values must lie in [0, dim_size={dim_size}), got [{lo}, {hi}]"
            )


def _reference_forward(x: Tensor, index: Tensor, dim_size: int, reduce: str) -> Forward:
    """Reference on (N, C) ``x`` and int64 ``index``; see :func:`scatter_reference`."""
    n, c = x.shape
    shape = (dim_size, c)
    if reduce in ("sum", "mean"):
        out = x.new_zeros(shape).index_add_(0, index, x)
        if reduce == "sum":
            return out, None, None
        count = torch.bincount(index, minlength=dim_size).to(x.dtype)
        return out / count.clamp(min=1)[:, None], None, count
    # By definition: the best value per bin (native scatter_reduce), then the smallest row
    # holding it among the ~B*C winners (nonzero of an equality mask, a small amin scatter).
    amax = "amax" if reduce == "max" else "amin"
    best = x.new_zeros(shape).scatter_reduce_(0, index[:, None].expand_as(x), x, amax,
                                              include_self=False)
    return _with_arg(x, index, best)


def _with_arg(x: Tensor, index: Tensor, best: Tensor) -> Forward:
    """Given each bin's best value (B, C), the smallest row holding it (N if empty)."""
    n, c = x.shape
    dim_size = best.shape[0]
    shape = (dim_size, c)
    rows, cols = torch.nonzero(x == best.index_select(0, index), as_tuple=True)  # ~B*C winners
    arg = torch.full((dim_size * c,), n, dtype=torch.long, device=x.device)
    arg.scatter_reduce_(0, index[rows] * c + cols, rows, "amin", include_self=True)
    arg = arg.view(shape)
    values = torch.where(arg < n, best, torch.zeros((), dtype=x.dtype, device=x.device))
    return values, arg, None


def _kernel_forward(
    backend: Backend, x: Tensor, index: Tensor, dim_size: int, reduce: str
) -> Forward:
    """``cuda/scatter.cu`` on contiguous (N, C) ``x`` and contiguous int64 ``index`` (N,)."""
    if x.dtype in UPCAST_DTYPES:
        values, arg, count = _kernel_forward(backend, x.float(), index, dim_size, reduce)
        return values.to(x.dtype), arg, None if count is None else count.to(x.dtype)
    suffix = KERNEL_DTYPES[x.dtype]
    n, c = x.shape
    shape = (dim_size, c)
    if reduce in ("sum", "mean"):
        out = x.new_zeros(shape)
        backend.launch("scatter", f"scatter_sum_{suffix}", n * c, x, index, out, n, c)
        if reduce == "sum":
            return out, None, None
        count_i = torch.zeros(dim_size, dtype=torch.long, device=x.device)
        backend.launch("scatter", "scatter_count_i64", n, index, count_i, n)
        count = count_i.to(x.dtype)
        return out / count.clamp(min=1)[:, None], None, count
    fill = float("-inf") if reduce == "max" else float("inf")
    best = torch.full(shape, fill, dtype=x.dtype, device=x.device)
    backend.launch("scatter", f"scatter_{reduce}_{suffix}", n * c, x, index, best, n, c)
    arg = torch.full(shape, n, dtype=torch.long, device=x.device)
    backend.launch("scatter", f"scatter_arg_{suffix}", n * c, x, index, best, arg, n, c)
    values = torch.where(arg < n, best, torch.zeros((), dtype=x.dtype, device=x.device))
    return values, arg, None


class ScatterFunction(torch.autograd.Function):
    """Autograd for the scatter family (also used by ``segment_reduce``).

    ``forward_impl(x, reduce) -> (values, arg, count)`` computes the forward pass with
    either the kernels or the reference. Backward: sum gathers the output gradient by
    ``index``; mean also divides by the bin count; max/min route each bin's gradient to
    its arg row (the smallest winning row), empty bins send none.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: Tensor,
        index: Tensor,
        reduce: str,
        forward_impl: Callable[[Tensor, str], Forward],
    ) -> tuple[Tensor, Tensor] | Tensor:
        values, arg, count = forward_impl(x, reduce)
        ctx.reduce = reduce
        ctx.n = x.shape[0]
        ctx.save_for_backward(index, arg if arg is not None else count)
        if arg is not None:
            ctx.mark_non_differentiable(arg)
            return values, arg
        return values

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor, *_: Tensor):  # type: ignore[override]
        index, extra = ctx.saved_tensors
        if ctx.reduce == "sum":
            g = grad.index_select(0, index)
        elif ctx.reduce == "mean":
            g = (grad / extra.clamp(min=1)[:, None]).index_select(0, index)
        else:
            g = grad.new_zeros((ctx.n + 1, grad.shape[1]))
            g.scatter_(0, extra, grad)  # row N collects the empty bins and is dropped
            g = g[: ctx.n]
        return g, None, None, None


def scatter_reference(
    src: Tensor, index: Tensor, dim_size: int, reduce: Reduce = "sum"
) -> Tensor | tuple[Tensor, Tensor]:
    """PyTorch reference of :func:`scatter` (same contract; differentiable by torch itself)."""
    _check(src, index, dim_size, reduce)
    x = src[:, None] if src.ndim == 1 else src
    values, arg, _ = _reference_forward(x, index.long(), dim_size, reduce)
    if src.ndim == 1:
        values, arg = values[:, 0], None if arg is None else arg[:, 0]
    return values if arg is None else (values, arg)


def scatter(
    src: Tensor, index: Tensor, dim_size: int, reduce: Reduce = "sum"
) -> Tensor | tuple[Tensor, Tensor]:
    """Reduce ``src`` (N, C) or (N,) into ``dim_size`` bins (B = dim_size) by ``index`` (N,).

    Args:
        src: (N, C) or (N,) values, any float dtype (int dtypes: reference path only).
        index: (N,) int64 or int32 bin of each row, each in ``[0, dim_size)``
            (``IndexError`` otherwise; checking costs one device sync on CUDA).
        dim_size: number of bins B.
        reduce: "sum" | "mean" | "max" | "min".

    Returns:
        sum/mean: values (B, C) (or (B,)), empty bins hold 0.
        max/min: ``(values, arg)``, arg (B, C) int64 the row of ``src`` that won (the
        smallest such row on ties), and N for empty bins, whose value is 0.

    Differentiable in ``src`` (gradients of max/min go to the arg row only). On CUDA with
    cupy the forward runs ``cuda/scatter.cu``: sum and mean then use float atomics and
    are not bitwise deterministic run to run; max/min values and arg are deterministic.
    float16/bfloat16 are reduced in float32 on that path. NaN in max/min: unspecified.
    """
    _check(src, index, dim_size, reduce)
    x = src[:, None] if src.ndim == 1 else src
    x = x.contiguous()
    index = index.to(torch.long).contiguous()
    if not x.is_floating_point():
        values, arg, _ = _reference_forward(x, index, dim_size, reduce)
        out = values if arg is None else (values, arg)
    else:
        backend = _backend.kernel_backend("scatter", x.device)

        def forward_impl(t: Tensor, r: str) -> Forward:
            if backend is None or t.numel() == 0:
                return _reference_forward(t, index, dim_size, r)
            return _kernel_forward(backend, t, index, dim_size, r)

        out = ScatterFunction.apply(x, index, reduce, forward_impl)
    if src.ndim == 1:
        if isinstance(out, tuple):
            return out[0][:, 0], out[1][:, 0]
        return out[:, 0]
    return out


def _self_check(backend: Backend, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(257, 5, generator=gen).to(device)
    index = torch.randint(0, 40, (257,), generator=gen).to(device)  # some bins stay empty
    for reduce in REDUCES:
        got = _kernel_forward(backend, x, index, 43, reduce)
        want = _reference_forward(x, index, 43, reduce)
        _backend.assert_close(f"scatter[{reduce}]", got[0], want[0])
        if want[1] is not None:
            _backend.assert_close(f"scatter[{reduce}].arg", got[1], want[1])


_backend.register_self_check("scatter", _self_check)
