"""Fixtures for the data tests: small synthetic clips and archives, one tiny simulated clip."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

# The test modules import the plain helpers in data_helpers.py directly.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_helpers import make_clip  # noqa: E402


@pytest.fixture()
def small_archive(tmp_path):
    """An archive of 5 synthetic clips in 3 shards (2, 2, 1)."""
    from pointwm.data.archive import write_archive

    clips = [make_clip(f"c{i}", seed=i, cams=1 + i % 2) for i in range(5)]
    manifest = write_archive(tmp_path / "arch", clips, clips_per_shard=2, config={"test": True})
    return manifest, clips


@pytest.fixture(scope="session")
def sim_config():
    from pointwm.data.sim import SimConfig

    return SimConfig(width=96, height=72, cameras=(1, 2), objects=(2, 3))


@pytest.fixture(scope="session")
def sim_clip(sim_config):
    """One simulated clip (seed 7, index 0) at a tiny resolution."""
    from pointwm.data.sim import generate_clip

    return generate_clip(7, 0, sim_config)
