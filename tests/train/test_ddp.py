"""Two CPU processes (gloo) stay in sync, on shards split unevenly between them."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp
from train_helpers import ddp_worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_stay_in_sync(tiny_archive, tmp_path):
    # 3 shards (3, 3, 2 clips) over 2 ranks: rank 0 streams 5-6 clips per pass, rank 1 2-3.
    steps = 4
    mp.spawn(ddp_worker, args=(2, _free_port(), str(tiny_archive), str(tmp_path), steps), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert len(r0["losses"]) == len(r1["losses"]) == steps
    assert r0["losses"] != r1["losses"]  # different data per rank...
    assert all(torch.equal(r0["state"][k], r1["state"][k]) for k in r0["state"])  # ...identical weights
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "metrics.csv").is_file()
