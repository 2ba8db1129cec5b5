"""World-model forward speed and peak memory (inference, ``WorldModel.predict``).

For each config (``tiny``, ``small``) and N scene points (2,000 / 12,000), M = 500 robot
points, T = 10 steps: one robot flow (min and median of ``--repeats`` calls), the
action-independent scene work alone (``encode_scene``: re-centring, voxel coordinates,
serialisation codes, scene token embedding, done once for all candidates), and K = 64
candidates sharing the scene in one call. Peak memory is the process's resident-set
growth during the (untimed) warm-up call, sampled every 2 ms from /proc after
``malloc_trim`` has returned the allocator's free memory to the OS (CPU), or
``torch.cuda.max_memory_allocated`` (GPU). Weights are random: speed does not depend on
them.

The scene is uniform random points in PointWorld's workspace box (0.7 x 0.8 x 0.3 m):
nearly one point per 1.5 cm voxel, the most voxels for N. The robot is a 5 cm sphere of
M points; candidates move it in different directions from the same t0 pose.

    .venv/bin/python benchmarks/bench_model.py [--quick] [--configs tiny small] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import threading
import time
from collections.abc import Callable

import torch

from pointwm import PointCloud
from pointwm.model import ModelConfig, WorldModel
from pointwm.paths import CONFIGS


def _release_free_memory() -> None:
    """Hand glibc's free heap pages back to the OS, so the next call's growth is its peak."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the figure is then a lower bound
        pass


class PeakMemory:
    """Peak memory growth (bytes) while the ``with`` body runs."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak = 0

    @staticmethod
    def _rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: fall back to the lifetime maximum
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._rss())
            time.sleep(0.002)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        self._base = self._max = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self._base
            return
        self._stop.set()
        self._thread.join()
        self.peak = max(self._max, self._rss()) - self._base


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, float, int]:
    """(min s, median s, peak bytes): memory of a warm-up call, times of ``repeats`` more."""
    gc.collect()
    _release_free_memory()
    with PeakMemory(device) as mem:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), mem.peak


def make_inputs(n: int, m: int, t: int, k: int, device: torch.device) -> tuple[PointCloud, torch.Tensor, torch.Tensor]:
    """Scene (N points), one robot flow (T+1, M, 3) and K candidate flows (K, T+1, M, 3)."""
    g = torch.Generator().manual_seed(0)
    lo, size = torch.tensor([0.0, -0.4, 0.0]), torch.tensor([0.7, 0.8, 0.3])
    xyz = torch.rand(n, 3, generator=g) * size + lo
    normals = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=1)
    scene = PointCloud(xyz, torch.rand(n, 3, generator=g), normals).to(device)
    sphere = torch.nn.functional.normalize(torch.randn(m, 3, generator=g), dim=1) * 0.05
    start = torch.tensor([0.35, 0.0, 0.2]) + sphere  # (M, 3)
    steps = torch.arange(t + 1, dtype=torch.float32)[None, :, None, None]  # (1, T+1, 1, 1)
    direction = torch.nn.functional.normalize(torch.randn(k, 3, generator=g), dim=1) * 0.01
    flows = start[None, None] + steps * direction[:, None, None, :]  # (K, T+1, M, 3)
    return scene, flows[0].to(device), flows.to(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[2000, 12000], help="scene points N")
    parser.add_argument("--robot-points", type=int, default=500)
    parser.add_argument("--candidates", type=int, default=64, help="K")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="N = 2,000 only, K = 16, 2 repeats")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.sizes, args.candidates, args.repeats = [2000], 16, 2
    device = torch.device(args.device)
    k, m = args.candidates, args.robot_points
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}; M = {m}, K = {k}; times in s (min / median of "
          f"{args.repeats}), memory = peak growth during the call")
    header = (f"{'config':<7} {'params':>8} {'N':>6} {'single':>15} {'mem':>8} {'scene-once':>10} "
              f"{'K cands':>8} {'per cand':>9} {'K/(K*single)':>12} {'mem K':>8}")
    print(header)
    for name in args.configs:
        torch.manual_seed(0)
        config = ModelConfig.from_yaml(CONFIGS / "model" / f"{name}.yaml")
        model = WorldModel(config).to(device).eval()
        params = sum(p.numel() for p in model.parameters())
        t = config.num_steps
        for n in args.sizes:
            scene, flow, flows = make_inputs(n, m, t, k, device)
            s_min, s_med, s_mem = timed(lambda: model.predict(scene, flow), device, args.repeats)  # noqa: B023
            centre = model.centre_of(scene.xyz, flow[0])
            with torch.no_grad():
                e_min, _, _ = timed(lambda: model.encode_scene(scene, centre), device, args.repeats)  # noqa: B023
            k_min, _, k_mem = timed(lambda: model.predict(scene, flows), device, 1)  # noqa: B023
            print(f"{name:<7} {params / 1e6:>7.1f}M {n:>6} {s_min:>7.3f}/{s_med:<7.3f} "
                  f"{s_mem / 2**20:>6.0f}MB {e_min:>10.4f} {k_min:>8.2f} {k_min / k:>9.3f} "
                  f"{k_min / (k * s_min):>12.2f} {k_mem / 2**20:>6.0f}MB", flush=True)


if __name__ == "__main__":
    main()
