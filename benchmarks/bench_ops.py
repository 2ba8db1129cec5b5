"""Benchmark pointwm.ops against native torch and (if importable) torch-scatter.

For each N (points) and C (channels): median wall time of each op, of the native torch
equivalent (``Tensor.scatter_reduce`` with an expanded index, ``torch.segment_reduce``,
``torch.unique``) and of torch-scatter, printed as ratios, plus the op's effective
bandwidth (bytes of src + index + output / time) against a plain copy of the same bytes.
Bins: N // 40 (about 40 points per bin, like 1.5 cm voxels of a dense capture).

Usage:
    python benchmarks/bench_ops.py                          # N in 1e4, 1e5, 1e6; C in 3, 64
    python benchmarks/bench_ops.py --sizes 1e4,1e5,1e6,1e7  # the issue's full range (RAM!)
    python benchmarks/bench_ops.py --device cuda            # the CUDA kernels (needs cupy)

torch-scatter is not a dependency: to compare, build it from source into this
environment (``pip install torch-scatter --no-deps --no-build-isolation``) or put a
built copy on PYTHONPATH; otherwise its columns are skipped with a note.
Ratios: "ours/torch" < 1 means pointwm is faster than native torch; "ts/ours" > 1 means
pointwm is faster than torch-scatter by that factor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from pointwm import ops

try:
    import torch_scatter  # type: ignore[import-not-found]
except ImportError:  # optional, never a dependency
    torch_scatter = None


STAT = statistics.median  # --stat min: less sensitive to other load on a shared machine


def timeit(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median (or --stat) seconds of ``fn``: at least ``repeats`` runs after one warm-up,
    more (up to 50) while they take under 0.2 s in all, so small sizes are not noise."""
    fn()
    times: list[float] = []
    while len(times) < repeats or (sum(times) < 0.2 and len(times) < 50):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return STAT(times)


def fmt_ms(t: float | None) -> str:
    return "      -" if t is None else f"{t * 1e3:7.2f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "    -" if a is None or b is None else f"{a / b:5.2f}"


def bench_size(n: int, c: int, device: torch.device, repeats: int, ops_sel: set[str]) -> None:
    gen = torch.Generator().manual_seed(0)
    b = max(1, n // 40)
    src = torch.randn(n, c, generator=gen).to(device)
    index = torch.randint(0, b, (n,), generator=gen).to(device)
    idx_exp = index[:, None].expand(n, c)
    sorted_index = index.sort().values
    counts = torch.bincount(sorted_index, minlength=b)
    indptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    elt = src.element_size()
    moved = n * c * elt + n * 8 + b * c * elt  # src + index + output bytes
    buf = torch.empty(moved // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(buf)
    t_copy = timeit(lambda: dst.copy_(buf), device, repeats)

    def native(reduce: str) -> Callable[[], object]:
        return lambda: src.new_zeros(b, c).scatter_reduce_(0, idx_exp, src, reduce,
                                                           include_self=False)

    rows: list[tuple[str, Callable[[], object], Callable[[], object] | None,
                     Callable[[], object] | None]] = []
    ts = torch_scatter
    if "scatter" in ops_sel:
        rows += [
            ("scatter sum", lambda: ops.scatter(src, index, b, "sum"), native("sum"),
             (lambda: ts.scatter_sum(src, index, 0, dim_size=b)) if ts else None),
            ("scatter mean", lambda: ops.scatter(src, index, b, "mean"), native("mean"),
             (lambda: ts.scatter_mean(src, index, 0, dim_size=b)) if ts else None),
            ("scatter max+arg", lambda: ops.scatter(src, index, b, "max"), native("amax"),
             (lambda: ts.scatter_max(src, index, 0, dim_size=b)) if ts else None),
        ]
    if "segment" in ops_sel:
        s_src = src  # rows already grouped by sorted_index: only the structure matters here
        rows += [
            ("segment sum", lambda: ops.segment_reduce(s_src, indptr, "sum"),
             lambda: torch.segment_reduce(s_src, "sum", offsets=indptr, axis=0),
             (lambda: ts.segment_csr(s_src, indptr, reduce="sum")) if ts else None),
            ("segment max+arg", lambda: ops.segment_reduce(s_src, indptr, "max"),
             lambda: torch.segment_reduce(s_src, "max", offsets=indptr, axis=0),
             (lambda: ts.segment_csr(s_src, indptr, reduce="max")) if ts else None),
        ]
    if "voxel" in ops_sel and c == 3:
        xyz = src * 0.3
        coord = ops.grid_coords(xyz, 0.015)
        rows += [
            ("grid_coords", lambda: ops.grid_coords(xyz, 0.015),
             lambda: torch.floor(xyz / 0.015).long(), None),
            ("voxel_unique", lambda: ops.voxel_unique(coord),
             lambda: torch.unique(coord, dim=0, return_inverse=True, return_counts=True), None),
        ]
    if "subm" in ops_sel and n <= 100_000:  # 27 GEMMs: minutes on a small CPU beyond
        coord = ops.grid_coords(src[:, :3] * 0.3, 0.015)
        rb = ops.subm_rulebook(coord)
        weight = torch.randn(27, c, c, device=device) / (27 * c) ** 0.5
        rows += [
            ("subm rulebook", lambda: ops.subm_rulebook(coord), None, None),
            (f"subm conv {c}->{c}", lambda: ops.subm_conv3d(src, rb, weight), None, None),
        ]

    print(f"\nN={n:.0e} C={c} bins={b} device={device}  copy of {moved / 1e6:.1f} MB: "
          f"{t_copy * 1e3:.2f} ms = {moved / t_copy / 1e9:.1f} GB/s")
    print(f"{'op':<18} {'ours ms':>7} {'torch ms':>8} {'ours/torch':>10} {'ts ms':>7} "
          f"{'ts/ours':>7} {'GB/s':>6} {'%copy':>6}")
    for name, ours, ref, other in rows:
        t_ours = timeit(ours, device, repeats)
        t_ref = timeit(ref, device, repeats) if ref else None
        t_ts = timeit(other, device, repeats) if other else None
        gbs = moved / t_ours / 1e9
        print(f"{name:<18} {fmt_ms(t_ours)} {fmt_ms(t_ref):>8} {fmt_ratio(t_ours, t_ref):>10} "
              f"{fmt_ms(t_ts)} {fmt_ratio(t_ts, t_ours):>7} {gbs:6.2f} {100 * t_copy / t_ours:5.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e4,1e5,1e6",
                        help="comma-separated N values (issue range: 1e4,1e5,1e6,1e7)")
    parser.add_argument("--channels", default="3,64", help="comma-separated C values")
    parser.add_argument("--device", default="auto",
                        help="cpu, cuda[:i], or auto (cpu, then cuda when a GPU is present)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-elements", type=float, default=7e7,
                        help="skip (N, C) with N*C above this (memory: max+arg needs ~5x)")
    parser.add_argument("--ops", default="scatter,segment,voxel,subm",
                        help="subset of scatter,segment,voxel,subm")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="statistic over repeats (min resists other load on the machine)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global STAT
    STAT = min if args.stat == "min" else statistics.median
    if args.device == "auto":
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    else:
        devices = [torch.device(args.device)]
    print(f"pointwm.ops benchmark: torch {torch.__version__}, {torch.get_num_threads()} CPU "
          f"threads, devices {[str(d) for d in devices]}, {args.stat} of >= {args.repeats} runs")
    if torch_scatter is None:
        print("note: torch-scatter is not importable here; its columns are skipped "
              "(build it from source into this environment to compare).")
    if not torch.cuda.is_available():
        print("note: no CUDA device: CPU figures only (the CUDA kernels are not measured).")
    for device in devices:
        for n in (int(float(s)) for s in args.sizes.split(",")):
            for c in (int(s) for s in args.channels.split(",")):
                if n * c > args.max_elements:
                    print(f"\nN={n:.0e} C={c}: skipped (N*C > --max-elements "
                          f"{args.max_elements:.0e})")
                    continue
                bench_size(n, c, device, args.repeats, set(args.ops.split(",")))


if __name__ == "__main__":
    main()
