"""scatter: hand-computed table x reductions x dtypes x paths, kernels vs reference, grads."""

from __future__ import annotations

import pytest
import torch

from pointwm import ops
from pointwm.ops.scatter import _kernel_forward, _reference_forward, scatter_reference

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]

# (name, src, index, dim_size, {reduce: expected values or (values, arg)})
CASES = [
    (
        "two_bins_two_empty",
        [[1, 2], [3, -1], [5, 0], [-2, 4]],
        [0, 2, 0, 2],
        4,
        {
            "sum": [[6, 2], [0, 0], [1, 3], [0, 0]],
            "mean": [[3, 1], [0, 0], [0.5, 1.5], [0, 0]],
            "max": ([[5, 2], [0, 0], [3, 4], [0, 0]], [[2, 0], [4, 4], [1, 3], [4, 4]]),
            "min": ([[1, 0], [0, 0], [-2, -1], [0, 0]], [[0, 2], [4, 4], [3, 1], [4, 4]]),
        },
    ),
    (
        "ties_pick_smallest_row",
        [[1], [1], [2], [2]],
        [1, 1, 0, 0],
        2,
        {
            "sum": [[4], [2]],
            "mean": [[2], [1]],
            "max": ([[2], [1]], [[2], [0]]),
            "min": ([[2], [1]], [[2], [0]]),
        },
    ),
    (
        "all_in_one_bin_1d",
        [1, -2, 3],
        [0, 0, 0],
        1,
        {"sum": [2], "mean": [2 / 3], "max": ([3], [2]), "min": ([-2], [1])},
    ),
    (
        "single_point",
        [[7, -7]],
        [0],
        1,
        {"sum": [[7, -7]], "mean": [[7, -7]], "max": ([[7, -7]], [[0, 0]]),
         "min": ([[7, -7]], [[0, 0]])},
    ),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hand_computed(case, reduce, dtype, device, tol):
    _, src, index, dim_size, expected = case
    src_t = torch.tensor(src, dtype=dtype, device=device)
    out = ops.scatter(src_t, torch.tensor(index, device=device), dim_size, reduce)
    want = expected[reduce]
    if reduce in ("max", "min"):
        values, arg = out
        torch.testing.assert_close(values, torch.tensor(want[0], dtype=dtype, device=device))
        torch.testing.assert_close(arg, torch.tensor(want[1], device=device))
    else:
        torch.testing.assert_close(out, torch.tensor(want, dtype=dtype, device=device), **tol(dtype))
        assert out.dtype == dtype


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_empty_input(reduce, device):
    src = torch.zeros(0, 3, device=device)
    out = ops.scatter(src, torch.zeros(0, dtype=torch.long, device=device), 2, reduce)
    values = out[0] if isinstance(out, tuple) else out
    assert values.shape == (2, 3) and not values.any()
    if isinstance(out, tuple):
        assert (out[1] == 0).all()  # arg = N = 0 for the empty bins
    out0 = ops.scatter(src, torch.zeros(0, dtype=torch.long, device=device), 0, reduce)
    assert (out0[0] if isinstance(out0, tuple) else out0).shape == (0, 3)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_random_matches_reference(reduce, device):
    gen = torch.Generator().manual_seed(1)
    for n, c, bins in [(1000, 3, 50), (777, 8, 1000), (64, 1, 1)]:
        src = torch.randn(n, c, generator=gen, dtype=torch.float64).to(device)
        # Integer-valued floats make ties frequent, exercising the arg rule.
        src[: n // 2] = src[: n // 2].mul(2).round()
        index = torch.randint(0, bins, (n,), generator=gen).to(device)
        got = ops.scatter(src, index, bins, reduce)
        want = scatter_reference(src.cpu(), index.cpu(), bins, reduce)
        if isinstance(want, tuple):
            torch.testing.assert_close(got[0].cpu(), want[0])
            torch.testing.assert_close(got[1].cpu(), want[1])
        else:
            torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_host_kernel_matches_reference(host_backend, reduce, dtype, tol):
    """The g++-compiled cuda/scatter.cu agrees with the reference on random inputs."""
    gen = torch.Generator().manual_seed(2)
    for trial in range(5):
        n = int(torch.randint(1, 3000, (1,), generator=gen))
        c = [1, 3, 5, 16, 2][trial]
        bins = int(torch.randint(1, 400, (1,), generator=gen))
        x = torch.randn(n, c, generator=gen).to(dtype)
        index = torch.randint(0, bins, (n,), generator=gen)
        got = _kernel_forward(host_backend, x, index, bins, reduce)
        want = _reference_forward(x, index, bins, reduce)
        torch.testing.assert_close(got[0], want[0], **tol(dtype))
        if want[1] is not None:
            torch.testing.assert_close(got[1], want[1], rtol=0, atol=0)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_gradcheck(reduce, device):
    gen = torch.Generator().manual_seed(3)
    src = torch.randn(12, 3, generator=gen, dtype=torch.float64).to(device).requires_grad_()
    index = torch.tensor([0, 1, 1, 3, 3, 3, 0, 1, 4, 4, 0, 3], device=device)  # bin 2 empty

    def f(x):
        out = ops.scatter(x, index, 5, reduce)
        return out[0] if isinstance(out, tuple) else out

    assert torch.autograd.gradcheck(f, (src,))


def test_gradient_matches_reference_autograd():
    src = torch.randn(50, 4, dtype=torch.float64, requires_grad=True)
    index = torch.randint(0, 7, (50,))
    w = torch.randn(9, 4, dtype=torch.float64)
    for reduce in ["sum", "mean", "max", "min"]:
        out = ops.scatter(src, index, 9, reduce)
        (g,) = torch.autograd.grad(((out[0] if isinstance(out, tuple) else out) * w).sum(), src)
        ref = scatter_reference(src, index, 9, reduce)
        (g_ref,) = torch.autograd.grad(((ref[0] if isinstance(ref, tuple) else ref) * w).sum(), src)
        torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_non_contiguous(reduce, device):
    gen = torch.Generator().manual_seed(4)
    base = torch.randn(5, 300, generator=gen).to(device)
    src = base.t()[:, 1:4]  # (300, 3), strided
    index = torch.randint(0, 20, (600,), generator=gen).to(device)[::2]
    assert not src.is_contiguous() and not index.is_contiguous()
    got = ops.scatter(src, index, 20, reduce)
    want = ops.scatter(src.contiguous(), index.contiguous(), 20, reduce)
    for a, b in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,), strict=True):
        torch.testing.assert_close(a, b)


def test_int32_index_and_integer_src(device):
    src = torch.tensor([[1, 2], [3, 4], [5, 6]], device=device)
    out = ops.scatter(src, torch.tensor([1, 0, 1], dtype=torch.int32, device=device), 2, "sum")
    assert out.tolist() == [[3, 4], [6, 8]]


@pytest.mark.parametrize(
    ("index", "dim_size", "err", "match"),
    [
        ([0, 3, 1], 3, IndexError, r"index values must lie in \[0, dim_size=3\), got \[0, 3\]"),
        ([0, -1, 1], 3, IndexError, r"got \[-1, 1\]"),
        ([0, 1], 3, ValueError, "index must be"),
        ([0, 1, 2], -1, ValueError, "dim_size"),
    ],
)
def test_bad_index(index, dim_size, err, match, device):
    src = torch.ones(3, 2, device=device)
    with pytest.raises(err, match=match):
        ops.scatter(src, torch.tensor(index, device=device), dim_size, "sum")


def test_bad_arguments():
    src = torch.ones(3, 2)
    with pytest.raises(TypeError, match="index must be int64 or int32"):
        ops.scatter(src, torch.zeros(3), 2)
    with pytest.raises(ValueError, match="reduce must be one of"):
        ops.scatter(src, torch.zeros(3, dtype=torch.long), 2, "prod")
    with pytest.raises(ValueError, match=r"src must be \(N,\) or \(N, C\)"):
        ops.scatter(torch.ones(3, 2, 2), torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="src must be a torch.Tensor"):
        ops.scatter([1.0, 2.0], torch.zeros(2, dtype=torch.long), 2)
