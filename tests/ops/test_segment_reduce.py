"""segment_reduce: hand-computed table x reductions x dtypes x paths, kernel vs reference."""

from __future__ import annotations

import pytest
import torch

from pointwm import ops
from pointwm.ops.segment import _kernel_forward, _reference_forward, _row_index

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]

CASES = [
    (
        "two_full_two_empty",
        [[1, 2], [5, 0], [3, -1], [-2, 4]],
        [0, 2, 2, 4, 4],
        {
            "sum": [[6, 2], [0, 0], [1, 3], [0, 0]],
            "mean": [[3, 1], [0, 0], [0.5, 1.5], [0, 0]],
            "max": ([[5, 2], [0, 0], [3, 4], [0, 0]], [[1, 0], [4, 4], [2, 3], [4, 4]]),
            "min": ([[1, 0], [0, 0], [-2, -1], [0, 0]], [[0, 1], [4, 4], [3, 2], [4, 4]]),
        },
    ),
    (
        "ties_pick_smallest_row",
        [[2], [2], [1], [1]],
        [0, 2, 4],
        {"sum": [[4], [2]], "mean": [[2], [1]], "max": ([[2], [1]], [[0], [2]]),
         "min": ([[2], [1]], [[0], [2]])},
    ),
    (
        "one_segment_1d",
        [1, -2, 3],
        [0, 3],
        {"sum": [2], "mean": [2 / 3], "max": ([3], [2]), "min": ([-2], [1])},
    ),
    ("no_segments", [[1.0, 2.0]][:0], [0], {"sum": [], "mean": [], "max": ([], []),
                                            "min": ([], [])}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hand_computed(case, reduce, dtype, device, tol):
    _, src, indptr, expected = case
    src_t = torch.tensor(src, dtype=dtype, device=device)
    out = ops.segment_reduce(src_t, torch.tensor(indptr, device=device), reduce)
    want = expected[reduce]
    if reduce in ("max", "min"):
        torch.testing.assert_close(out[0], torch.tensor(want[0], dtype=dtype, device=device))
        torch.testing.assert_close(out[1], torch.tensor(want[1], dtype=torch.long, device=device))
    else:
        torch.testing.assert_close(out, torch.tensor(want, dtype=dtype, device=device), **tol(dtype))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_empty_rows_with_segments(reduce, device):
    out = ops.segment_reduce(torch.zeros(0, 2, device=device),
                             torch.zeros(4, dtype=torch.long, device=device), reduce)
    values = out[0] if isinstance(out, tuple) else out
    assert values.shape == (3, 2) and not values.any()


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_matches_scatter(reduce, device):
    gen = torch.Generator().manual_seed(5)
    src = torch.randn(500, 4, generator=gen, dtype=torch.float64).to(device)
    src[::3] = src[::3].round()
    counts = torch.randint(0, 8, (60,), generator=gen)  # some segments empty
    counts[-1] += 500 - counts.sum()
    n = int(counts.sum())
    assert n == 500
    indptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]).to(device)
    got = ops.segment_reduce(src[:n], indptr, reduce)
    want = ops.scatter(src[:n], torch.repeat_interleave(torch.arange(60, device=device),
                                                        counts.to(device)), 60, reduce)
    for a, b in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_host_kernel_matches_reference(host_backend, reduce, dtype, tol):
    gen = torch.Generator().manual_seed(6)
    for c in [1, 3, 16]:
        n = int(torch.randint(1, 2000, (1,), generator=gen))
        cuts = torch.randint(0, n + 1, (int(torch.randint(1, 300, (1,), generator=gen)),),
                             generator=gen).sort().values
        indptr = torch.cat([torch.tensor([0]), cuts, torch.tensor([n])])
        x = torch.randn(n, c, generator=gen).to(dtype)
        got = _kernel_forward(host_backend, x, indptr, reduce)
        want = _reference_forward(x, indptr, _row_index(indptr, n), reduce)
        torch.testing.assert_close(got[0], want[0], **tol(dtype))
        if want[1] is not None:
            torch.testing.assert_close(got[1], want[1], rtol=0, atol=0)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_gradcheck(reduce, device):
    gen = torch.Generator().manual_seed(7)
    src = torch.randn(10, 3, generator=gen, dtype=torch.float64).to(device).requires_grad_()
    indptr = torch.tensor([0, 3, 3, 7, 10], device=device)

    def f(x):
        out = ops.segment_reduce(x, indptr, reduce)
        return out[0] if isinstance(out, tuple) else out

    assert torch.autograd.gradcheck(f, (src,))


def test_non_contiguous(device):
    base = torch.randn(3, 40, device=device)
    src = base.t()  # (40, 3) strided
    indptr = torch.tensor([0, 0, 10, 25, 40, 40, 40], device=device)[[0, 2, 3, 4]]
    for reduce in ["sum", "mean", "max", "min"]:
        got = ops.segment_reduce(src, indptr, reduce)
        want = ops.segment_reduce(src.contiguous(), indptr.contiguous(), reduce)
        for a, b in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,), strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("indptr", "match"),
    [
        ([1, 2, 4], "start at 0 and end at N = 4"),
        ([0, 2, 5], "start at 0 and end at N = 4"),
        ([0, 3, 2, 4], "non-decreasing"),
        ([], r"indptr must be \(S \+ 1,\)"),
    ],
)
def test_bad_indptr(indptr, match, device):
    with pytest.raises(ValueError, match=match):
        ops.segment_reduce(torch.ones(4, 2, device=device),
                           torch.tensor(indptr, dtype=torch.long, device=device))


def test_bad_indptr_dtype():
    with pytest.raises(TypeError, match="indptr must be int64 or int32"):
        ops.segment_reduce(torch.ones(4, 2), torch.tensor([0.0, 4.0]))
