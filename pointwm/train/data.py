"""Training data for one process: an endless, resumable stream of augmented samples.

Each DDP rank reads its own strided slice of the (per-pass shuffled) shard list, pass after
pass, forever; the run decides how many steps it takes, so ranks whose slices hold
different clip counts never wait on each other (no uneven-epoch deadlock: smaller slices
simply repeat more often).

Every item has a *position* p = 0, 1, 2, ... in its rank's stream. The sample at p is a pure
function of (archive, seed, rank, world size, p): pass k's shard order comes from
``(seed, k)``, the augmentation generator from ``(seed, rank, p)``. So the data position of
a checkpoint is one integer, and resuming at position p skips whole shards by the
manifest's clip counts and reads only the partly consumed shard. With W DataLoader
workers, worker w produces positions p ≡ w (mod W) and the loader's round-robin restores
the order; a bad clip yields ``None`` in its slot so the interleaving never shifts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from pointwm.data.archive import Manifest, ShardError, ShardInfo, iter_shard, read_manifest
from pointwm.data.augment import AugmentConfig, augment
from pointwm.data.clip import ClipError
from pointwm.data.sample import TrainSample, clip_to_sample
from pointwm.errors import InputError

__all__ = ["SampleStream", "compute_flow_std", "sample_seed"]

log = logging.getLogger(__name__)


def sample_seed(seed: int, rank: int, position: int) -> int:
    """The 63-bit seed of the augmentation generator of one stream position."""
    return int(np.random.SeedSequence([seed, rank, position]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class SampleStream(IterableDataset):
    """Endless ``(position, TrainSample | None)`` items of one rank, from ``start`` on.

    manifests: archives to read. rank / world_size: this process's slice of shards.
    augment_cfg: load-time augmentation (None: none). seed / shuffle: see the module doc.
    num_robot_points: M. start: first position to produce (a checkpoint's data position).
    """

    def __init__(
        self,
        manifests: list[Manifest],
        *,
        rank: int = 0,
        world_size: int = 1,
        augment_cfg: AugmentConfig | None = None,
        seed: int = 0,
        shuffle: bool = True,
        num_robot_points: int = 500,
        start: int = 0,
    ) -> None:
        super().__init__()
        self.shards: list[tuple[Path, ShardInfo]] = [(m.path(s), s) for m in manifests for s in m.shards]
        if len(self.shards) < world_size:
            raise InputError(
                f"training data: {len(self.shards)} shard(s) cannot feed {world_size} processes "
                "(each process needs at least one shard; write smaller shards)"
            )
        if not 0 <= rank < world_size:
            raise InputError(f"SampleStream: rank {rank} not in [0, {world_size})")
        self.rank, self.world_size = rank, world_size
        self.augment_cfg, self.seed, self.shuffle = augment_cfg, int(seed), shuffle
        self.num_robot_points, self.start = num_robot_points, int(start)

    def pass_shards(self, k: int) -> list[tuple[Path, ShardInfo]]:
        """This rank's shards in pass ``k`` over the data."""
        order = np.arange(len(self.shards))
        if self.shuffle:
            order = np.random.default_rng([self.seed, k]).permutation(len(self.shards))
        return [self.shards[i] for i in order[self.rank :: self.world_size]]

    def _transform(self, clip, position: int) -> TrainSample:
        s = clip_to_sample(clip, self.num_robot_points)
        if self.augment_cfg is not None:
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.rank, position))
            s = augment(s, self.augment_cfg, g)
        return s

    def __iter__(self) -> Iterator[tuple[int, TrainSample | None]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        pos, k = 0, 0
        while True:
            shards = self.pass_shards(k)
            if sum(s.clips for _, s in shards) == 0:
                raise InputError(f"training data: rank {self.rank}'s shards hold no clips")
            for path, shard in shards:
                if pos + shard.clips <= self.start:  # consumed before the checkpoint
                    pos += shard.clips
                    continue
                yield from self._shard_items(path, shard, pos, worker, workers)
                pos += shard.clips
            k += 1

    def _shard_items(self, path: Path, shard: ShardInfo, pos: int, worker: int, workers: int):
        """Exactly ``shard.clips`` positions from ``pos``; the bad or missing ones as None."""
        produced = 0
        try:
            for clip in iter_shard(path, shard, on_bad_clip=lambda key, e: log.error("skipping bad clip %r: %s", key, e)):
                if produced >= shard.clips:
                    break
                p = pos + produced
                produced += 1
                if p < self.start or p % workers != worker:
                    continue
                try:
                    yield p, self._transform(clip, p)
                except ClipError as e:
                    log.error("skipping bad clip %r: %s", clip.key, e)
                    yield p, None
        except ShardError as e:
            log.error("skipping shard: %s", e)
        # Positions the shard did not deliver (corrupt shard, bad clips): hold their slots.
        for p in range(pos + produced, pos + shard.clips):
            if p >= self.start and p % workers == worker:
                yield p, None


def compute_flow_std(
    roots: list[str | Path] | list[Manifest], num_clips: int, num_steps: int, moved_threshold: float = 0.005
) -> tuple[float, ...]:
    """Per-step displacement std (T,) metres from the first ``num_clips`` clips.

    For step t: sqrt(mean |d_t|² / 3) over the valid, visible points that moved more than
    ``moved_threshold`` at that step (the points the motion-weighted loss trains on), i.e.
    the per-axis RMS displacement of moving points. Steps without a moving point fall back
    to the nearest step that has one (or to 1 cm). Deterministic: archive order, no
    augmentation, so every DDP rank computes the same values.
    """
    manifests = [m if isinstance(m, Manifest) else read_manifest(m) for m in roots]
    sq = np.zeros(num_steps, dtype=np.float64)
    count = np.zeros(num_steps, dtype=np.float64)
    seen = 0
    for m in manifests:
        for shard in m.shards:
            if seen >= num_clips:
                break
            try:
                for clip in iter_shard(m.path(shard), shard, on_bad_clip=lambda k, e: None):
                    if seen >= num_clips:
                        break
                    if clip.points.shape[0] != num_steps + 1:
                        raise InputError(
                            f"training data: clip {clip.key!r} has T = {clip.points.shape[0] - 1} steps, "
                            f"the model predicts {num_steps}"
                        )
                    d = (clip.points[1:] - clip.points[:1]).astype(np.float64)  # (T, N, 3)
                    mag2 = (d**2).sum(-1)  # (T, N)
                    ok = clip.visible[1:] & clip.valid[None, :] & (mag2 > moved_threshold**2)
                    sq += (mag2 * ok).sum(1)
                    count += ok.sum(1)
                    seen += 1
            except ShardError as e:
                log.error("flow statistics: skipping shard: %s", e)
    if seen == 0:
        raise InputError("training data: no readable clip for the flow statistics")
    std = np.sqrt(sq / np.maximum(count, 1) / 3.0)
    have = count > 0
    if not have.any():
        log.warning("flow statistics: no moving point in %d clips; using 1 cm per step", seen)
        return tuple([0.01] * num_steps)
    idx = np.flatnonzero(have)
    for t in np.flatnonzero(~have):
        std[t] = std[idx[np.abs(idx - t).argmin()]]
    log.info("flow_std from %d clips (moved points per step %s): %s m", seen, count.astype(int).tolist(),
             np.round(std, 4).tolist())
    return tuple(float(s) for s in std)
