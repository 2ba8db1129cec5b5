"""World-model forward speed and peak memory (inference, ``WorldModel.predict``).

The scene is the sample capture (``assets/sample_capture``: a table with four objects),
voxelised at 1.5 cm (N = 3,002) or 0.75 cm (N = 11,000, about PointWorld's cap); the robot
is the Panda (M = 500 surface points) with its tool 3 cm behind the red box, as ``pointwm
demo`` plans, and the K candidates are smooth joint-noise paths of T = 10 steps from there
(seeded), the kind a sampling planner evaluates. For each model config: one prediction (min
and median of ``--repeats`` calls), the action-independent scene work alone (done once for
all candidates), and K candidates in one call for each ``--K``, with its ratio to one
prediction of the same model and the first config's single prediction as the named peer.
Peak memory is the process's resident-set growth during the (untimed) warm-up call, sampled
every 2 ms from /proc after ``malloc_trim`` has returned the allocator's free memory to the
OS (CPU), or ``torch.cuda.max_memory_allocated`` (GPU). Weights are random (the shipped
checkpoint's config is ``tiny_contact``): speed does not depend on them, except that the
factored model decodes only the objects the robot comes near.

    .venv/bin/python benchmarks/bench_model.py [--configs tiny_contact tiny_factored] [--K 1 64] [--threads 1]
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

from capture import Workspace, frames_to_cloud, load_capture
from kinematics import load_robot
from planning import Goal
from pointwm import PointCloud
from pointwm.commands.demo import DEFAULT_GOAL
from pointwm.model import FactoredWorldModel, ModelConfig, WorldModel
from pointwm.paths import CONFIGS, SAMPLE_CAPTURE
from pointwm.tasks.push import push_start_joints


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


def make_inputs(voxel: float, k: int, device: torch.device) -> tuple[PointCloud, torch.Tensor, torch.Tensor]:
    """The sample capture at ``voxel`` m, one Panda push flow (T+1, M, 3) and K candidate
    flows (K, T+1, M, 3) around it (smooth joint noise, seeded)."""
    cloud = frames_to_cloud(load_capture(SAMPLE_CAPTURE), Workspace(), voxel_size=voxel)
    robot = load_robot("panda")
    box = Goal.parse(DEFAULT_GOAL).resolve(cloud.xyz.float(), 10)
    pts = cloud.xyz[box.index].double()
    q0 = torch.from_numpy(push_start_joints(robot, robot.default_q.numpy(), pts.numpy(), (0.05, 0.0, 0.0)))
    g = torch.Generator().manual_seed(0)
    noise = (torch.randn(k, 10, robot.num_joints, generator=g, dtype=torch.float64) * 0.015).cumsum(1)
    q = torch.cat([q0.expand(k, 1, -1), q0 + noise], 1).clamp(robot.lower, robot.upper)
    flows = robot.point_flow(q).float()
    return cloud.to(device), flows[0].to(device), flows.to(device)


def scene_work(model: WorldModel, scene: PointCloud, flow: torch.Tensor) -> Callable[[], object]:
    """The action-independent work of one prediction, for either architecture."""
    if isinstance(model, FactoredWorldModel):
        return lambda: model.encode([scene])
    centre = model.centre_of(scene.xyz, flow[0])
    return lambda: model.encode_scene(scene, centre)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["tiny_contact", "tiny_factored"],
                        help="configs/model/NAME.yaml; the first is the peer of the 'vs peer' column")
    parser.add_argument("--voxels", nargs="+", type=float, default=[0.015], help="scene voxel sizes (m)")
    parser.add_argument("--K", nargs="+", type=int, default=[64], help="candidate counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    k_max = max(args.K)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}; M = 500, T = 10; times in s (min / median of "
          f"{args.repeats}), memory = peak growth during the call")
    print("| config | params | N | one prediction (s) | vs peer | scene work once (s) | "
          + " | ".join(f"K = {k} (s) | K = {k} / one" for k in args.K) + " | memory, one / largest K |")
    print("|---|---:|---:|---:|---:|---:|" + "---:|---:|" * len(args.K) + "---:|")
    peer: dict[float, float] = {}
    for voxel in args.voxels:
        scene, flow, flows = make_inputs(voxel, k_max, device)
        n = len(scene)
        for name in args.configs:
            torch.manual_seed(0)
            model = WorldModel(ModelConfig.from_yaml(CONFIGS / "model" / f"{name}.yaml")).to(device).eval()
            params = sum(p.numel() for p in model.parameters())
            s_min, s_med, s_mem = timed(lambda: model.predict(scene, flow), device, args.repeats)  # noqa: B023
            peer.setdefault(voxel, s_min)
            with torch.no_grad():
                e_min, _, _ = timed(scene_work(model, scene, flow), device, args.repeats)
            cells, k_mem = [], 0
            for k in args.K:
                k_min, _, k_mem = timed(lambda: model.predict(scene, flows[:k]), device, 1)  # noqa: B023
                cells.append(f"{k_min:.3f} | {k_min / s_min:.1f}x")
            print(f"| {name} | {params / 1e6:.2f}M | {n} | {s_min:.3f} / {s_med:.3f} | {s_min / peer[voxel]:.2f}x | "
                  f"{e_min:.3f} | " + " | ".join(cells) + f" | {s_mem / 2**20:.0f} / {k_mem / 2**20:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
