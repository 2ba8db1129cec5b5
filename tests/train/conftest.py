"""Training-test fixtures: a tiny synthetic archive (8 clips in shards of 3, 3, 2)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The test modules import the plain helpers in train_helpers.py directly.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import make_archive  # noqa: E402


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("train_data") / "arch", clips=8, per_shard=3, seed=0)


@pytest.fixture(scope="session")
def heldout_archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("eval_data") / "arch", clips=3, per_shard=2, seed=1)
