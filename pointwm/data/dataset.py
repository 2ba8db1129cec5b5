"""Streaming archives into training: an IterableDataset over shards.

Shards are split across DDP ranks and DataLoader workers (shard ``i`` goes to reader
``i % (world_size * num_workers)``), optionally shuffled per epoch with a seed. Each shard
is verified against the manifest when it is reached; a bad shard or clip is logged (with a
count in ``ArchiveDataset.skipped`` of the process that met it) and skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from pointwm.data.archive import Manifest, ShardError, ShardInfo, iter_shard, read_manifest
from pointwm.data.clip import Clip, ClipError

__all__ = ["ArchiveDataset"]

log = logging.getLogger(__name__)


def _dist_rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ArchiveDataset(IterableDataset):
    """Clips of one or more archives, streamed shard by shard.

    roots:      archive directories (each with a manifest.json).
    transform:  optional ``Clip -> Any`` applied to each clip (e.g. ``clip_to_sample`` +
                augmentation); a ``ClipError`` it raises skips the clip with a log line.
    shuffle:    shuffle the shard order each epoch (``set_epoch``) from ``seed``.
    rank, world_size: DDP split; default from ``torch.distributed`` when initialised.
    """

    def __init__(
        self,
        roots: str | os.PathLike | Sequence[str | os.PathLike],
        transform: Callable[[Clip], Any] | None = None,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(roots, str | os.PathLike):
            roots = [roots]
        self.manifests: list[Manifest] = [read_manifest(r) for r in roots]
        self.shards: list[tuple[Path, ShardInfo]] = [
            (m.path(s), s) for m in self.manifests for s in m.shards
        ]
        self.transform = transform
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self._rank, self._world = rank, world_size
        self.skipped = {"shards": 0, "clips": 0}

    @property
    def num_clips(self) -> int:
        """Clips listed in the manifests (before any skipping)."""
        return sum(s.clips for _, s in self.shards)

    def set_epoch(self, epoch: int) -> None:
        """Select the shard shuffle of ``epoch`` (call before iterating, on every rank)."""
        self.epoch = int(epoch)

    def shards_for(self, rank: int, world_size: int, worker: int, num_workers: int) -> list[tuple[Path, ShardInfo]]:
        """The shards one reader gets: a strided slice of the (shuffled) shard list."""
        order = np.arange(len(self.shards))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.shards))
        readers = world_size * num_workers
        me = rank * num_workers + worker
        return [self.shards[i] for i in order[me::readers]]

    def __iter__(self) -> Iterator[Any]:
        rank, world = _dist_rank_world()
        rank = self._rank if self._rank is not None else rank
        world = self._world if self._world is not None else world
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)

        def bad_clip(key: str, err: ClipError) -> None:
            self.skipped["clips"] += 1
            log.error("skipping bad clip %r: %s", key, err)

        for path, shard in self.shards_for(rank, world, worker, workers):
            try:
                clips = iter_shard(path, shard, on_bad_clip=bad_clip)
                for clip in clips:
                    if self.transform is None:
                        yield clip
                        continue
                    try:
                        out = self.transform(clip)
                    except ClipError as e:
                        bad_clip(clip.key, e)
                        continue
                    yield out
            except ShardError as e:
                self.skipped["shards"] += 1
                log.error("skipping shard: %s", e)
