"""Training data: the clip type, sharded archives, readers, augmentations, simulation.

``pointwm.data.sim`` (the MuJoCo generator) is imported on use only.
"""

from pointwm.data.archive import (
    SCHEMA_VERSION,
    ArchiveError,
    ArchiveWriter,
    Manifest,
    ShardError,
    ShardInfo,
    iter_shard,
    read_manifest,
    write_archive,
)
from pointwm.data.augment import AugmentConfig, augment
from pointwm.data.check import CheckReport, check_archive
from pointwm.data.clip import CameraView, Clip, ClipError
from pointwm.data.dataset import ArchiveDataset
from pointwm.data.pointworld_h5 import read_pointworld_h5
from pointwm.data.sample import TrainSample, clip_to_sample

__all__ = [
    "SCHEMA_VERSION",
    "ArchiveDataset",
    "ArchiveError",
    "ArchiveWriter",
    "AugmentConfig",
    "CameraView",
    "CheckReport",
    "Clip",
    "ClipError",
    "Manifest",
    "ShardError",
    "ShardInfo",
    "TrainSample",
    "augment",
    "check_archive",
    "clip_to_sample",
    "iter_shard",
    "read_manifest",
    "read_pointworld_h5",
    "write_archive",
]
